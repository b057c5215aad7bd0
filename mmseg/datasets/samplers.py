"""A shuffling sampler whose position survives a checkpoint (exact resume, docs/ARCHITECTURE.md)."""
import torch
from torch.utils.data import Sampler

__all__ = ['ResumableRandomSampler']


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
