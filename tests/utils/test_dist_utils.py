"""mmseg.utils.dist_utils and the distributed test loop, in 2 real gloo processes (spawned once)."""
import multiprocessing
import os
import pickle
import socket
import traceback

import numpy as np
import pytest
import torch
import torch.distributed as dist
from torch import nn

from mmseg.apis import multi_gpu_test, single_gpu_test
from mmseg.datasets import build_dataloader
from mmseg.utils import UDAGradientSync, default_backend, init_dist, rank_seed

WORLD_SIZE = 2


def _free_port():
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def _rank_entry(rank, env, jobs, tmp_path):
    """One rank: join the process group once, then run every job in turn. A job that fails
    writes its traceback to ``<tmp_path>/<job>/error<rank>.txt``; the next jobs still run."""
    try:
        os.environ.update(env, RANK=str(rank), LOCAL_RANK=str(rank))
        init_dist('pytorch')
    except BaseException:
        (tmp_path / f'init_error{rank}.txt').write_text(traceback.format_exc())
        os._exit(1)
    for name, target, args in jobs:
        folder = tmp_path / name
        try:
            target(rank, folder, *args)
        except BaseException:
            (folder / f'error{rank}.txt').write_text(traceback.format_exc())
    dist.destroy_process_group()
    os._exit(0)


def _run_ranks(jobs, tmp_path):
    """Run each ``(name, target, args)`` of ``jobs`` as ``target(rank, tmp_path / name, *args)``
    in WORLD_SIZE processes joined once by init_dist('pytorch') (the variables torchrun sets).

    The processes are spawned, not forked: a child forked from a pytest process whose OpenMP
    thread pool has run (any earlier test) can hang in its first parallel operation. Spawning
    costs an import of torch and mmseg per rank, so the jobs of all tests share one group.
    Returns {rank: exit code} (None: still running after the timeout, then killed)."""
    for name, _, _ in jobs:
        (tmp_path / name).mkdir()
    env = dict(MASTER_ADDR='127.0.0.1', MASTER_PORT=str(_free_port()),
               WORLD_SIZE=str(WORLD_SIZE))
    ctx = multiprocessing.get_context('spawn')
    procs = [ctx.Process(target=_rank_entry, args=(rank, env, jobs, tmp_path))
             for rank in range(WORLD_SIZE)]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(180)
    codes = {}
    for rank, proc in enumerate(procs):
        codes[rank] = proc.exitcode
        if proc.exitcode is None:
            proc.kill()
            proc.join()
    return codes


@pytest.fixture(scope='module')
def rank_results(tmp_path_factory):
    """The jobs of every test below, run once in one 2-process group: {job name: folder}."""
    tmp_path = tmp_path_factory.mktemp('ranks')
    # The job that provokes an error runs last: the other ranks' collectives cannot wait on it.
    jobs = [('seeds', _seeds, ()), ('sync_without_d', _sync_worker, (False, )),
            ('sync_with_d', _sync_worker, (True, )), ('test_loop', _test_worker, ()),
            ('unused', _unused_worker, ())]
    codes = _run_ranks(jobs, tmp_path)
    return tmp_path, codes


def _job_folder(rank_results, name):
    """The folder of one job; fails with the job's traceback (or the group's failure)."""
    tmp_path, codes = rank_results
    for rank in range(WORLD_SIZE):
        init_error = tmp_path / f'init_error{rank}.txt'
        assert not init_error.exists(), init_error.read_text()
        error = tmp_path / name / f'error{rank}.txt'
        assert not error.exists(), error.read_text()
        assert codes[rank] == 0, f'rank {rank} hung or died (exit code {codes[rank]})'
    return tmp_path / name


# ----------------------------------------------------------------------------- init / seeds
def test_default_backend_follows_the_device():
    assert default_backend() == ('nccl' if torch.cuda.is_available() else 'gloo')


def test_init_dist_names_the_missing_launcher_variables(monkeypatch):
    for name in ('RANK', 'WORLD_SIZE', 'MASTER_ADDR', 'MASTER_PORT'):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(RuntimeError, match=r"RANK.*tools/dist_train.sh"):
        init_dist('pytorch')
    for name in ('SLURM_PROCID', 'SLURM_NTASKS', 'SLURM_NODELIST'):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(RuntimeError, match='SLURM_PROCID'):
        init_dist('slurm')
    with pytest.raises(ValueError, match='launcher must be one of'):
        init_dist('mpi')


def test_rank_seed_without_process_group_is_the_seed():
    assert rank_seed(7) == 7
    assert rank_seed(None) is None


def _seeds(rank, tmp_path):
    (tmp_path / f'seed{rank}.txt').write_text(str(rank_seed(5)))


def test_rank_seed_adds_the_rank(rank_results):
    tmp_path = _job_folder(rank_results, 'seeds')
    assert [int((tmp_path / f'seed{r}.txt').read_text()) for r in range(WORLD_SIZE)] == [5, 6]


# ----------------------------------------------------------------------------- gradient sync
class _ToyUDA(nn.Module):
    """A UDA-method stand-in: student, EMA-like teacher, BatchNorm, optional discriminator.

    forward backpropagates three losses locally (the second through a retained graph, like the
    feature distance), as the real methods do inside forward_train.
    """

    def __init__(self, with_d):
        super().__init__()
        self.model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Linear(4, 2))
        self.ema_model = nn.Linear(3, 4)
        self.ema_model.requires_grad_(False)
        self.model_D = nn.Linear(2, 1) if with_d else None

    def get_model(self):
        return self.model

    def forward(self, x):
        out = self.model(x)
        out.pow(2).mean().backward(retain_graph=True)
        (out.sum() * 0.5).backward()
        out = self.model(x.flip(0))
        if self.model_D is not None:
            out = self.model_D(out)
        out.abs().mean().backward()
        return {}


def _make_uda(rank, with_d):
    torch.manual_seed(100 + rank)  # a different initialisation on each rank
    return _ToyUDA(with_d)


def _batch(rank):
    return torch.arange(12, dtype=torch.float32).reshape(4, 3).mul(0.1 * (rank + 1)).sin()


def _sync_worker(rank, tmp_path, with_d):
    uda = _make_uda(rank, with_d)
    UDAGradientSync(uda)
    start = {k: v.clone() for k, v in uda.state_dict().items()}
    uda.train()
    uda(_batch(rank))
    grads = {n: p.grad.clone() for n, p in uda.named_parameters() if p.grad is not None}
    state = {k: v.clone() for k, v in uda.state_dict().items()}
    with open(tmp_path / f'rank{rank}.pkl', 'wb') as f:
        pickle.dump(dict(start=start, grads=grads, state=state), f)


@pytest.mark.parametrize('with_d', [False, True])
def test_uda_gradient_sync_averages_the_accumulated_gradients(rank_results, with_d):
    tmp_path = _job_folder(rank_results, 'sync_with_d' if with_d else 'sync_without_d')
    ranks = [pickle.loads((tmp_path / f'rank{r}.pkl').read_bytes()) for r in range(WORLD_SIZE)]
    # Independent route: each rank's local gradients in this process, averaged by hand, all
    # ranks starting from rank 0's weights (the start broadcast).
    local = []
    for rank in range(WORLD_SIZE):
        uda = _make_uda(0, with_d)
        uda.train()
        uda(_batch(rank))
        local.append({n: p.grad.clone() for n, p in uda.named_parameters()
                      if p.grad is not None})
    reference = _make_uda(0, with_d).state_dict()
    for rank in ranks:
        for key, value in reference.items():
            assert torch.equal(rank['start'][key], value), key
    assert set(ranks[0]['grads']) == set(local[0])
    assert any(n.startswith('model_D.') for n in local[0]) == with_d
    for name in local[0]:
        expected = sum(g[name] for g in local) / WORLD_SIZE
        torch.testing.assert_close(ranks[0]['grads'][name], expected, rtol=1e-6, atol=1e-7)
        assert torch.equal(ranks[0]['grads'][name], ranks[1]['grads'][name]), name
    # The BatchNorm statistics (different batches) are rank 0's everywhere after the step.
    for key in ranks[0]['state']:
        assert torch.equal(ranks[0]['state'][key], ranks[1]['state'][key]), key
    assert not torch.equal(ranks[0]['state']['model.1.running_mean'],
                           ranks[0]['start']['model.1.running_mean'])


class _UnusedHead(_ToyUDA):
    def __init__(self):
        super().__init__(False)
        self.model.add_module('unused', nn.Linear(2, 2))

    def forward(self, x):
        self.model[2](self.model[1](self.model[0](x))).sum().backward()
        return {}


def _unused_worker(rank, tmp_path):
    torch.manual_seed(0)
    uda = _UnusedHead()
    UDAGradientSync(uda)
    uda.train()
    try:
        uda(_batch(rank))
    except RuntimeError as error:
        (tmp_path / f'message{rank}.txt').write_text(str(error))


def test_uda_gradient_sync_names_parameters_without_gradient(rank_results):
    tmp_path = _job_folder(rank_results, 'unused')
    message = (tmp_path / 'message0.txt').read_text()
    assert 'unused.weight' in message and 'find_unused_parameters=True' in message


# ----------------------------------------------------------------------------- test loop
class _IndexDataset(torch.utils.data.Dataset):
    def __len__(self):
        return 5  # odd: the DistributedSampler pads one rank

    def __getitem__(self, idx):
        return dict(idx=idx)


class _IndexModel(nn.Module):
    """Predicts a 2x3 map filled with the image index (rank-independent)."""

    def forward(self, return_loss=False, rescale=True, idx=None):
        return [np.full((2, 3), int(i), dtype=np.int64) for i in idx]


def _test_worker(rank, tmp_path):
    loader = build_dataloader(_IndexDataset(), 1, 0, dist=True, shuffle=False)
    results = multi_gpu_test(_IndexModel(), loader)
    if rank == 0:
        with open(tmp_path / 'gathered.pkl', 'wb') as f:
            pickle.dump(results, f)
    else:
        assert results is None


def test_multi_gpu_test_gathers_in_dataset_order(rank_results):
    tmp_path = _job_folder(rank_results, 'test_loop')
    gathered = pickle.loads((tmp_path / 'gathered.pkl').read_bytes())
    loader = build_dataloader(_IndexDataset(), 1, 0, dist=False, shuffle=False)
    single = single_gpu_test(_IndexModel(), loader)
    assert len(gathered) == len(single) == 5
    for got, expected in zip(gathered, single):
        np.testing.assert_array_equal(got, expected)
    assert [int(r[0, 0]) for r in gathered] == [0, 1, 2, 3, 4]
