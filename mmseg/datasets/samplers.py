"""A shuffling sampler whose position survives a checkpoint (exact resume, docs/ARCHITECTURE.md),
and the DistributedSampler of mmseg 0.x."""
import torch
from mmcv.runner import get_dist_info
from torch.utils.data import DistributedSampler as _TorchDistributedSampler
from torch.utils.data import Sampler

__all__ = ['ResumableRandomSampler', 'DistributedSampler']


class DistributedSampler(_TorchDistributedSampler):
    """torch's DistributedSampler whose ``num_replicas`` / ``rank`` default to mmcv's
    ``get_dist_info()`` (world size 1, rank 0 without a process group), as in mmseg 0.x: usable
    on one process. ``seed`` (default 0) seeds the per-epoch permutation shared by all ranks.
    """

    def __init__(self, dataset, num_replicas=None, rank=None, shuffle=True, seed=0):
        dist_rank, dist_world_size = get_dist_info()
        super().__init__(dataset, num_replicas=dist_world_size if num_replicas is None
                         else num_replicas, rank=dist_rank if rank is None else rank,
                         shuffle=shuffle, seed=0 if seed is None else seed)


class ResumableRandomSampler(Sampler):
    """torch's RandomSampler (one permutation per epoch, its seed drawn from torch's global
    generator when the epoch starts: the same order for the same global state) that remembers
    the epoch's ``seed`` and can restart an epoch part-way (``resume_from``)."""

    def __init__(self, data_source):
        self.data_source = data_source
        self.seed = None
        self._resume = None

    def __len__(self):
        return len(self.data_source)

    def resume_from(self, seed, num_consumed):
        """Make the next epoch the permutation of ``seed`` without its first ``num_consumed``
        indices (the samples the interrupted run already trained on)."""
        if not 0 <= num_consumed <= len(self):
            raise ValueError(f'num_consumed must be in [0, {len(self)}], got {num_consumed}')
        self._resume = (int(seed), int(num_consumed))

    def __iter__(self):
        if self._resume is not None:
            seed, skip = self._resume
            self._resume = None
        else:
            seed, skip = int(torch.empty((), dtype=torch.int64).random_().item()), 0
        self.seed = seed
        generator = torch.Generator()
        generator.manual_seed(seed)
        yield from torch.randperm(len(self), generator=generator).tolist()[skip:]
