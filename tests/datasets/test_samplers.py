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


def test_build_dataloader_dist_gives_a_distributed_sampler_on_one_process():
    """mmseg 0.x: dist=True (the default) without a process group: rank 0 of 1, the shuffle
    asked for, batches of samples_per_gpu."""
    import torch.distributed as dist
    from torch.utils.data import DistributedSampler as TorchDistributedSampler

    from mmseg.datasets import build_dataloader
    from mmseg.datasets.samplers import DistributedSampler
    assert not dist.is_initialized()
    data = list(range(10))
    loader = build_dataloader(data, samples_per_gpu=3, workers_per_gpu=0, seed=4)
    assert isinstance(loader.sampler, DistributedSampler)
    assert isinstance(loader.sampler, TorchDistributedSampler)
    assert loader.sampler.shuffle and loader.sampler.num_replicas == 1
    assert loader.sampler.rank == 0 and loader.batch_size == 3 and len(loader) == 4
    generator = torch.Generator()
    generator.manual_seed(4)  # torch's DistributedSampler: seed + epoch
    assert list(loader.sampler) == torch.randperm(10, generator=generator).tolist()
    ordered = build_dataloader(data, samples_per_gpu=3, workers_per_gpu=0, shuffle=False)
    assert not ordered.sampler.shuffle and list(ordered.sampler) == data
    assert [b.tolist() for b in ordered] == [[0, 1, 2], [3, 4, 5], [6, 7, 8], [9]]


def test_distributed_sampler_defaults_to_the_mmcv_dist_info_without_a_process_group():
    from mmseg.datasets.samplers import DistributedSampler
    sampler = DistributedSampler(list(range(5)), shuffle=False)
    assert (sampler.num_replicas, sampler.rank) == (1, 0)
    assert list(sampler) == [0, 1, 2, 3, 4]
    assert list(DistributedSampler(list(range(5)), num_replicas=2, rank=1, shuffle=False)) == [
        1, 3, 0]  # padded to an equal share per rank, as torch does
