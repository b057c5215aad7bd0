"""Registries of datasets and pipeline transforms, and the dataset/dataloader builders."""
import random
from functools import partial

import numpy as np
import torch
from mmcv.parallel import collate
from mmcv.runner import get_dist_info
from mmcv.utils import Registry, build_from_cfg
from torch.utils.data import DataLoader

from .samplers import DistributedSampler, ResumableRandomSampler

DATASETS = Registry('dataset')
PIPELINES = Registry('pipeline')


def build_dataset(cfg, default_args=None):
    """Build a dataset; a list of configs (or of ann/img dirs) becomes a ConcatDataset
    (mmseg/datasets/dataset_wrappers.py: its parts must share their classes).

    An unknown or missing ``type`` or a key the dataset does not take raises UserInputError
    (also a KeyError / TypeError) naming it.
    """
    from mmseg.utils.config_args import config_build_error
    from .dataset_wrappers import ConcatDataset
    if isinstance(cfg, (list, tuple)):
        return ConcatDataset([build_dataset(c, default_args) for c in cfg])
    try:
        return build_from_cfg(cfg, DATASETS, default_args)
    except (KeyError, TypeError) as error:
        user_error = config_build_error(error, 'dataset config')
        if user_error is None:
            raise
        raise user_error from None


def _seed_worker(worker_id, num_workers, rank, seed):
    worker_seed = num_workers * rank + worker_id + seed
    np.random.seed(worker_seed)
    random.seed(worker_seed)
    torch.manual_seed(worker_seed)


def build_dataloader(dataset, samples_per_gpu, workers_per_gpu, num_gpus=1, dist=True,
                     shuffle=True, seed=None, drop_last=False, pin_memory=True,
                     persistent_workers=True, **kwargs):
    """A DataLoader that collates mmcv DataContainers; per-GPU batch in dist mode.

    ``dist=True`` (the default, as in mmseg 0.x) samples with a DistributedSampler (a subclass of
    torch's) of the ``shuffle`` asked for, also on one process without a process group (rank and
    world size from mmcv's get_dist_info: 0 and 1).
    """
    rank, world_size = get_dist_info()
    if dist:
        # One permutation per epoch shared by all ranks (seeded by the run seed), split into
        # disjoint shares.
        sampler = DistributedSampler(dataset, world_size, rank, shuffle=shuffle,
                                     seed=seed if seed is not None else 0)
        shuffle = False
        batch_size, num_workers = samples_per_gpu, workers_per_gpu
    else:
        # Same order as DataLoader(shuffle=True); its position can be restored on resume.
        sampler = ResumableRandomSampler(dataset) if shuffle else None
        shuffle = False
        batch_size, num_workers = num_gpus * samples_per_gpu, num_gpus * workers_per_gpu
    init_fn = partial(_seed_worker, num_workers=num_workers, rank=rank,
                      seed=seed) if seed is not None else None
    return DataLoader(
        dataset, batch_size=batch_size, sampler=sampler, num_workers=num_workers,
        collate_fn=partial(collate, samples_per_gpu=samples_per_gpu),
        pin_memory=pin_memory and torch.cuda.is_available(), shuffle=shuffle,
        worker_init_fn=init_fn, drop_last=drop_last,
        persistent_workers=persistent_workers and num_workers > 0, **kwargs)
