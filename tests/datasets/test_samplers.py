"""ResumableRandomSampler: torch's RandomSampler order, restartable part-way through an epoch."""
import torch
from torch.utils.data import RandomSampler

from mmseg.datasets.samplers import ResumableRandomSampler


def test_same_order_as_torch_random_sampler_for_the_same_global_state():
    data = list(range(10))
    torch.manual_seed(5)
    expected = [list(RandomSampler(data)) for _ in range(3)]
    torch.manual_seed(5)
    sampler = ResumableRandomSampler(data)
    assert [list(sampler) for _ in range(3)] == expected


def test_resume_from_continues_the_epoch_of_a_seed():
    sampler = ResumableRandomSampler(list(range(10)))
    first = list(sampler)
    seed = sampler.seed
    sampler.resume_from(seed, 4)
    assert list(sampler) == first[4:]
    assert sorted(first) == list(range(10))
    assert sorted(sampler) == list(range(10))  # afterwards: a whole epoch again
