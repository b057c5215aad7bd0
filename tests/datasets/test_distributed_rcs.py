"""Rare-class sampling in distributed training: each rank draws its own samples (seed + rank)
from the same class distribution."""
import numpy as np

import mmseg.utils.dist_utils as dist_utils
from mmseg.datasets import build_dataset
from mmseg.utils import rank_seed
from test_uda_dataset import _source_cfg, _target_cfg


def _draws(dataset, rank, monkeypatch, n=6, world_size=2):
    """(class probabilities, drawn classes, source files) of n items on ``rank``, seed 0."""
    monkeypatch.setattr(dist_utils, 'get_dist_info', lambda: (rank, world_size))
    np.random.seed(rank_seed(0))
    drawn, real_choice = [], np.random.choice

    def recording_choice(values, *args, **kwargs):
        out = real_choice(values, *args, **kwargs)
        drawn.append((kwargs.get('p'), out))
        return out

    monkeypatch.setattr(np.random, 'choice', recording_choice)
    files = [dataset[0]['img_metas'].data['ori_filename'] for _ in range(n)]
    monkeypatch.setattr(np.random, 'choice', real_choice)
    class_draws = drawn[0::2]  # a class, then a file containing it
    return [p for p, _ in class_draws], [int(c) for _, c in class_draws], files


def test_ranks_draw_different_rare_class_samples_from_one_distribution(tiny_data, monkeypatch):
    dataset = build_dataset(dict(type='UDADataset', source=_source_cfg(tiny_data),
                                 target=_target_cfg(tiny_data),
                                 rare_class_sampling=dict(min_pixels=100, class_temp=1.0,
                                                          min_crop_ratio=0)))
    probs0, classes0, files0 = _draws(dataset, 0, monkeypatch)
    probs1, classes1, files1 = _draws(dataset, 1, monkeypatch)
    for p in probs0 + probs1:
        np.testing.assert_array_equal(p, dataset.rcs_classprob)
    assert (classes0, files0) != (classes1, files1)
    # Rank 0 draws exactly as a single-process run with the same seed.
    assert _draws(dataset, 0, monkeypatch, world_size=1)[1:] == (classes0, files0)
