"""Distributed training helpers on top of torch.distributed (launched by torchrun or Slurm).

- ``init_dist(launcher)``: join the process group started by ``torchrun`` (``pytorch``) or by
  ``srun`` (``slurm``); backend nccl when CUDA is available, gloo otherwise.
- ``rank_seed(seed)``: the seed of this process, ``seed + rank`` (rank 0 = a single-process run).
- ``broadcast_module_state(module)``: every parameter and buffer from rank 0.
- ``UDAGradientSync``: the student (and AdvSeg's discriminators) under DistributedDataParallel.
"""
import os
import subprocess

import torch
import torch.distributed as dist
from mmcv.parallel import MMDistributedDataParallel, scatter_kwargs
from mmcv.runner import get_dist_info
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from .errors import UserInputError, UserRuntimeError

__all__ = ['init_dist', 'finish_dist', 'get_dist_info', 'default_backend', 'rank_seed',
           'broadcast_module_state', 'UDAGradientSync', 'CPUDistributedDataParallel']

LAUNCHERS = ('pytorch', 'slurm')


def default_backend():
    """'nccl' when CUDA is available, else 'gloo' (CPU)."""
    return 'nccl' if torch.cuda.is_available() else 'gloo'


def _require_env(names, launcher):
    missing = [n for n in names if n not in os.environ]
    if missing:
        how = 'tools/dist_train.sh (torchrun)' if launcher == 'pytorch' else 'srun in a Slurm job'
        raise UserRuntimeError(f'--launcher {launcher} needs the environment variables '
                               f'{missing}, which {how} sets; start the command that way')


def _slurm_env(port):
    """RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR, MASTER_PORT from the variables of srun."""
    _require_env(['SLURM_PROCID', 'SLURM_NTASKS', 'SLURM_NODELIST'], 'slurm')
    os.environ['RANK'] = os.environ['SLURM_PROCID']
    os.environ['WORLD_SIZE'] = os.environ['SLURM_NTASKS']
    os.environ['LOCAL_RANK'] = os.environ.get('SLURM_LOCALID', '0')
    if 'MASTER_ADDR' not in os.environ:
        hosts = subprocess.run(['scontrol', 'show', 'hostnames', os.environ['SLURM_NODELIST']],
                               capture_output=True, text=True, check=True).stdout.split()
        os.environ['MASTER_ADDR'] = hosts[0]
    os.environ.setdefault('MASTER_PORT', str(port if port is not None else 29500))


def init_dist(launcher, backend=None, port=None, **kwargs):
    """Initialise the default process group of this process.

    Args:
        launcher: 'pytorch' (torchrun: RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR/PORT set) or
            'slurm' (srun: SLURM_PROCID, SLURM_NTASKS, SLURM_LOCALID, SLURM_NODELIST; the port
            from MASTER_PORT, else ``port``, else 29500).
        backend: None picks nccl with CUDA and gloo without; 'nccl' (the configs'
            dist_params) becomes gloo when CUDA is not available.
        kwargs: passed to ``torch.distributed.init_process_group``.

    On CUDA the process uses the GPU ``LOCAL_RANK``. Raises ValueError for another launcher and
    RuntimeError when the launcher's environment variables are missing.
    """
    if launcher not in LAUNCHERS:
        raise UserInputError(f'launcher must be one of {LAUNCHERS}, got {launcher!r}')
    if launcher == 'slurm':
        _slurm_env(port)
    _require_env(['RANK', 'WORLD_SIZE', 'MASTER_ADDR', 'MASTER_PORT'], launcher)
    if backend is None or (backend == 'nccl' and not torch.cuda.is_available()):
        # The configs' dist_params name nccl (as the original); on CPU that means gloo.
        backend = default_backend()
    if torch.cuda.is_available():
        torch.cuda.set_device(int(os.environ.get('LOCAL_RANK', 0)) % torch.cuda.device_count())
    dist.init_process_group(backend=backend, **kwargs)


def finish_dist():
    """Wait for every rank, then close the default process group (no-op when none is open).

    The entry points call it before they return: a rank that exits while the others still use
    the group can abort in gloo's teardown ('terminate called without an active exception').
    """
    if dist.is_available() and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()


def rank_seed(seed):
    """``seed + rank``: different random draws (crops, rare-class samples) on each process,
    rank 0 drawing as a single-process run. None stays None."""
    if seed is None:
        return None
    rank, _ = get_dist_info()
    return seed + rank


@torch.no_grad()
def broadcast_module_state(module, src=0):
    """Copy every parameter and buffer of ``module`` from rank ``src`` to all ranks (in place).

    Used once before training so that the teachers and the ImageNet model, which DDP does not
    wrap, start identical everywhere, and after each step for the BatchNorm statistics.
    """
    for tensor in list(module.parameters()) + list(module.buffers()):
        dist.broadcast(tensor.data, src)


class _GradientSyncPass(nn.Module):
    """Forward of a DDP sync pass: a zero-weighted sum of the parameters that hold gradients.

    Its backward adds 0 to those gradients and so lets DDP's reducer average the gradients
    accumulated by the preceding (local) backward passes of the iteration.
    """

    def __init__(self, module):
        super().__init__()
        self.module = module

    def forward(self, params):
        return sum(p.sum() for p in params) * 0.0


class UDAGradientSync:
    """DistributedDataParallel for the student of a UDA method (and AdvSeg's ``model_D``).

    The UDA methods backpropagate several losses per iteration (source, feature distance,
    mixed, masked, adversarial) inside ``forward_train``, as the original single-GPU code. Each
    of these backward passes accumulates locally; after ``forward_train`` one forward/backward
    through each DDP wrapper (DDP's gradient accumulation pattern) averages the accumulated
    gradients over the ranks before any optimizer steps. Then the buffers (BatchNorm statistics)
    of the whole UDA model, teachers included, are taken from rank 0, so every rank holds the
    same model after every step. The EMA teachers follow the synchronised student.

    Args:
        uda_model: a UDADecorator (``model``, optionally ``model_D``).
        device_ids: ``[local GPU]`` on CUDA, None on CPU.
        find_unused_parameters: set when some trainable parameter receives no gradient in an
            iteration (the config's ``find_unused_parameters``).
    """

    def __init__(self, uda_model, device_ids=None, find_unused_parameters=False):
        self.uda_model = uda_model
        self.find_unused_parameters = find_unused_parameters
        modules = {'model': uda_model.get_model()}
        if getattr(uda_model, 'model_D', None) is not None:
            modules['model_D'] = uda_model.model_D
        broadcast_module_state(uda_model)
        # Kept outside the module tree: state-dict keys and optimizer params stay unchanged.
        self.ddp = {
            name: DistributedDataParallel(
                _GradientSyncPass(module), device_ids=device_ids, broadcast_buffers=False,
                find_unused_parameters=find_unused_parameters)
            for name, module in modules.items()}
        self.handle = uda_model.register_forward_hook(self._after_forward)

    def _after_forward(self, module, args, output):
        if module.training and torch.is_grad_enabled():
            self.synchronize()

    def synchronize(self):
        """Average the accumulated gradients (DDP) and broadcast all buffers from rank 0."""
        for name, ddp in self.ddp.items():
            params = [p for p in ddp.module.parameters() if p.requires_grad]
            with_grad = [p for p in params if p.grad is not None]
            if len(with_grad) < len(params) and not self.find_unused_parameters:
                names = [n for n, p in ddp.module.named_parameters()
                         if p.requires_grad and p.grad is None]
                raise RuntimeError(
                    f'{name}: parameters {names[:5]} got no gradient in this iteration; set '
                    f'find_unused_parameters=True in the config for distributed training')
            ddp(with_grad).backward()
        with torch.no_grad():
            for buffer in self.uda_model.buffers():
                dist.broadcast(buffer, 0)

    def remove(self):
        self.handle.remove()


class CPUDistributedDataParallel(MMDistributedDataParallel):
    """mmcv's MMDistributedDataParallel for CPU processes (gloo): it unwraps the DataContainers
    of a batch as MMDataParallel does on CPU (mmcv only scatters with ``device_ids``)."""

    def train_step(self, *inputs, **kwargs):
        inputs, kwargs = scatter_kwargs(inputs, kwargs, [-1])
        return super().train_step(*inputs[0], **kwargs[0])

    def val_step(self, *inputs, **kwargs):
        inputs, kwargs = scatter_kwargs(inputs, kwargs, [-1])
        return super().val_step(*inputs[0], **kwargs[0])

    def _run_ddp_forward(self, *inputs, **kwargs):
        inputs, kwargs = scatter_kwargs(inputs, kwargs, [-1])
        return self.module(*inputs[0], **kwargs[0])
