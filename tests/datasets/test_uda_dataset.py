"""UDADataset (docs/REFERENCE.md §3.6): pairing, rare-class probabilities and candidates, re-drawn crops."""
import json
import math

import numpy as np
import pytest
import torch
from dataset_test_utils import eval_pipeline, train_pipeline

from mmseg.datasets import UDADataset, build_dataloader, build_dataset, get_rcs_class_probs


def _source_cfg(tiny_data, pipeline=None):
    return dict(type='GTADataset', data_root=str(tiny_data.gta), img_dir='images',
                ann_dir='labels', pipeline=pipeline or train_pipeline(crop=(16, 16)))


def _target_cfg(tiny_data, pipeline=None, margins=(2, 2, 0, 0)):
    return dict(type='CityscapesDataset', data_root=str(tiny_data.cityscapes),
                img_dir='leftImg8bit/train', ann_dir='gtFine/train',
                pipeline=pipeline or train_pipeline(crop=(16, 16)),
                crop_pseudo_margins=list(margins))


def test_rcs_class_probs_by_hand(tmp_path):
    stats = [{'0': 500, '2': 100, 'file': 'a_labelTrainIds.png'},
             {'0': 200, '1': 200, 'file': 'b_labelTrainIds.png'}]
    (tmp_path / 'sample_class_stats.json').write_text(json.dumps(stats))
    classes, probs = get_rcs_class_probs(str(tmp_path), temperature=0.1)
    assert classes == [2, 1, 0]  # ascending pixel counts 100, 200, 700
    weights = [math.exp((1 - 0.1) / 0.1), math.exp((1 - 0.2) / 0.1), math.exp((1 - 0.7) / 0.1)]
    np.testing.assert_allclose(probs, [w / sum(weights) for w in weights], rtol=1e-6)
    with pytest.raises(FileNotFoundError, match='sample_class_stats.json.*convert_datasets'):
        get_rcs_class_probs(str(tmp_path / 'nowhere'), 0.01)


def test_pairs_without_rcs_and_built_from_config(tiny_data):
    dataset = build_dataset(dict(type='UDADataset', source=_source_cfg(tiny_data),
                                 target=_target_cfg(tiny_data)))
    assert isinstance(dataset, UDADataset) and len(dataset) == 3 * 2
    assert dataset.CLASSES == dataset.target.CLASSES and dataset.ignore_index == 255
    item = dataset[3]  # source 3 // 2 = 1, target 3 % 2 = 1
    assert set(item) == {'img', 'img_metas', 'gt_semantic_seg', 'target_img',
                         'target_img_metas', 'valid_pseudo_mask'}
    assert item['img_metas'].data['ori_filename'] == '00001.png'
    assert item['target_img_metas'].data['ori_filename'].startswith('bochum/')
    assert dataset[4]['img_metas'].data['ori_filename'] == '00002.png'
    assert dataset[4]['target_img_metas'].data['ori_filename'].startswith('aachen/')
    assert tuple(item['valid_pseudo_mask'].data.shape) == (1, 16, 16)


def test_rcs_candidates_by_min_pixels(tiny_data):
    dataset = UDADataset(build_dataset(_source_cfg(tiny_data)),
                         build_dataset(_target_cfg(tiny_data)),
                         dict(rare_class_sampling=dict(min_pixels=100, class_temp=0.01,
                                                       min_crop_ratio=0.5),
                              source=_source_cfg(tiny_data)))
    assert dataset.rcs_classes == [18, 1, 8, 13, 10, 2, 0]  # ascending pixel counts
    for c in dataset.rcs_classes:
        expected = [f'{i:05d}_labelTrainIds.png'
                    for i in range(3) if np.sum(tiny_data.labels[('gta', f'{i:05d}')] == c) > 100]
        assert dataset.samples_with_class[c] == expected
    assert dataset.samples_with_class[1] == ['00001_labelTrainIds.png']  # 64 px in 00000


def test_rcs_fails_clearly_when_a_class_has_no_candidate(tiny_data):
    # class 18 has 128 pixels in one file: no file passes min_pixels=150
    with pytest.raises(ValueError, match='class 18 .*min_pixels=150'):
        build_dataset(dict(type='UDADataset', source=_source_cfg(tiny_data),
                           target=_target_cfg(tiny_data),
                           rare_class_sampling=dict(min_pixels=150, class_temp=0.01,
                                                    min_crop_ratio=0.5)))
    # Exactly min_pixels is not enough: a candidate needs strictly more (128 > 128 is false).
    with pytest.raises(ValueError, match='class 18 .*min_pixels=128'):
        build_dataset(dict(type='UDADataset', source=_source_cfg(tiny_data),
                           target=_target_cfg(tiny_data),
                           rare_class_sampling=dict(min_pixels=128, class_temp=0.01,
                                                    min_crop_ratio=0.5)))
    with pytest.raises(KeyError, match='min_crop_ratio'):
        build_dataset(dict(type='UDADataset', source=_source_cfg(tiny_data),
                           target=_target_cfg(tiny_data),
                           rare_class_sampling=dict(min_pixels=100, class_temp=0.01)))


def test_misspelt_uda_dataset_keys_are_errors_not_ignored(tiny_data):
    with pytest.raises(KeyError, match="rare_class_samplng"):
        build_dataset(dict(type='UDADataset', source=_source_cfg(tiny_data),
                           target=_target_cfg(tiny_data),
                           rare_class_samplng=dict(min_pixels=0, class_temp=0.01,
                                                   min_crop_ratio=0.5)))
    with pytest.raises(KeyError, match="min_crop_ration"):
        build_dataset(dict(type='UDADataset', source=_source_cfg(tiny_data),
                           target=_target_cfg(tiny_data),
                           rare_class_sampling=dict(min_pixels=0, class_temp=0.01,
                                                    min_crop_ratio=0.5, min_crop_ration=1)))


def _rcs_dataset(tiny_data, min_crop_ratio, **kwargs):
    return build_dataset(dict(type='UDADataset', source=_source_cfg(tiny_data),
                              target=_target_cfg(tiny_data),
                              rare_class_sampling=dict(min_pixels=100, class_temp=0.01,
                                                       min_crop_ratio=min_crop_ratio), **kwargs))


class _RecordingDataset:
    """Wraps the source dataset and records the class-18 pixel count of every load."""

    def __init__(self, dataset, records):
        self.dataset, self.records = dataset, records

    def __getitem__(self, idx):
        sample = self.dataset[idx]
        self.records.append((idx, int((sample['gt_semantic_seg'].data == 18).sum())))
        return sample

    def __len__(self):
        return len(self.dataset)


def test_rcs_redraws_crops_until_the_class_is_visible(tiny_data):
    dataset = _rcs_dataset(tiny_data, min_crop_ratio=0.5)
    records = []
    dataset.source = _RecordingDataset(dataset.source, records)
    dataset.rcs_classes, dataset.rcs_classprob = [18], np.array([1.0])
    np.random.seed(0)
    redraws = 0
    for _ in range(8):
        records.clear()
        item = dataset[0]
        counts = [n for _, n in records]
        assert {idx for idx, _ in records} == {2}  # the only file with > 100 px of class 18
        # every load but the last holds <= 100 * 0.5 pixels; the last one is kept
        assert all(n <= 50 for n in counts[:-1]) and (counts[-1] > 50 or len(counts) == 11)
        assert int((item['gt_semantic_seg'].data == 18).sum()) == counts[-1]
        redraws += len(counts) - 1
    assert redraws > 0

    without_ratio = _rcs_dataset(tiny_data, min_crop_ratio=0)
    without_ratio.source = _RecordingDataset(without_ratio.source, records)
    records.clear()
    without_ratio[5]
    assert len(records) == 1


class _IndexDataset:
    """A stand-in dataset whose samples only say which index was loaded."""

    def __init__(self, length):
        self.length = length

    def __getitem__(self, idx):
        return dict(idx=idx, img=None, img_metas=None)

    def __len__(self):
        return self.length


def _hand_rcs_probs(tiny_data, temperature):
    """P(c) = softmax((1 - f_c) / T) over the GTA classes, from the label arrays themselves."""
    counts = {}
    for (name, _), label in tiny_data.labels.items():
        if name == 'gta':
            for c in np.unique(label[label != 255]):
                counts[int(c)] = counts.get(int(c), 0) + int(np.sum(label == c))
    total = sum(counts.values())
    weights = {c: math.exp((1 - n / total) / temperature) for c, n in counts.items()}
    return {c: w / sum(weights.values()) for c, w in weights.items()}


def _draw_sources(dataset, num_draws, seed):
    dataset.source, dataset.target = _IndexDataset(3), _IndexDataset(2)
    np.random.seed(seed)
    return np.bincount([dataset[0]['idx'] for _ in range(num_draws)], minlength=3) / num_draws


def _assert_frequencies(observed, expected, num_draws):
    # 4.5 binomial standard deviations: a seeded draw, so the test is deterministic.
    for obs, p in zip(observed, expected):
        assert abs(obs - p) <= 4.5 * math.sqrt(p * (1 - p) / num_draws) + 1e-9, (observed,
                                                                               expected)


def test_rcs_draws_classes_with_the_hand_computed_probabilities(tiny_data):
    # Temperature 0.1 spreads the draws over all 7 classes (0.01 picks class 18 ~always).
    dataset = build_dataset(dict(type='UDADataset', source=_source_cfg(tiny_data),
                                 target=_target_cfg(tiny_data),
                                 rare_class_sampling=dict(min_pixels=100, class_temp=0.1,
                                                          min_crop_ratio=0)))
    probs = _hand_rcs_probs(tiny_data, 0.1)
    assert sorted(probs) == sorted(dataset.rcs_classes)
    # Classes: one pseudo-file per class, so the loaded index is the drawn class.
    classes = sorted(probs)
    dataset.samples_with_class = {c: [f'file_of_{c}'] for c in classes}
    dataset.file_to_idx = {f'file_of_{c}': i for i, c in enumerate(classes)}
    dataset.source, dataset.target = _IndexDataset(len(classes)), _IndexDataset(2)
    np.random.seed(0)
    num_draws = 3000
    drawn = np.bincount([dataset[0]['idx'] for _ in range(num_draws)], minlength=len(classes))
    _assert_frequencies(drawn / num_draws, [probs[c] for c in classes], num_draws)


def test_rcs_draws_files_holding_more_than_min_pixels_of_the_class(tiny_data):
    dataset = build_dataset(dict(type='UDADataset', source=_source_cfg(tiny_data),
                                 target=_target_cfg(tiny_data),
                                 rare_class_sampling=dict(min_pixels=100, class_temp=0.1,
                                                          min_crop_ratio=0)))
    probs = _hand_rcs_probs(tiny_data, 0.1)
    # P(file) = sum over classes of P(c) / (number of files with > 100 px of c) if it has them.
    expected = np.zeros(3)
    for c, p in probs.items():
        files = [i for i in range(3)
                 if np.sum(tiny_data.labels[('gta', f'{i:05d}')] == c) > 100]
        for i in files:
            expected[i] += p / len(files)
    num_draws = 3000
    _assert_frequencies(_draw_sources(dataset, num_draws, seed=1), expected, num_draws)


def test_sync_crop_uses_one_box_for_source_and_target(tiny_data):
    plain = [dict(type='LoadImageFromFile'), dict(type='LoadAnnotations'),
             dict(type='RandomFlip'),
             dict(type='Normalize', mean=[0, 0, 0], std=[1, 1, 1], to_rgb=False),
             dict(type='DefaultFormatBundle'),
             dict(type='Collect', keys=['img', 'gt_semantic_seg'])]
    same = dict(type='CityscapesDataset', data_root=str(tiny_data.cityscapes),
                img_dir='leftImg8bit/train', ann_dir='gtFine/train', pipeline=plain)
    dataset = build_dataset(dict(type='UDADataset', source=same,
                                 target=dict(same, crop_pseudo_margins=[4, 0, 0, 0]),
                                 sync_crop_size=(16, 24)))
    np.random.seed(3)
    for idx in (0, 3):  # pairs (0, 0) and (1, 1): source image == target image
        item = dataset[idx]
        assert tuple(item['img'].data.shape) == (3, 16, 24)
        assert tuple(item['gt_semantic_seg'].data.shape) == (1, 16, 24)
        assert tuple(item['valid_pseudo_mask'].data.shape) == (1, 16, 24)
        assert torch.equal(item['img'].data, item['target_img'].data)
        for meta in (item['img_metas'].data, item['target_img_metas'].data):
            assert meta['img_shape'] == meta['pad_shape'] == (16, 24, 3)


def test_dataloader_batches_uda_samples(tiny_data):
    dataset = build_dataset(dict(type='UDADataset', source=_source_cfg(tiny_data),
                                 target=_target_cfg(tiny_data)))
    loader = build_dataloader(dataset, samples_per_gpu=2, workers_per_gpu=0, dist=False,
                              shuffle=False)
    batch = next(iter(loader))
    assert tuple(batch['img'].data[0].shape) == (2, 3, 16, 16)
    assert tuple(batch['target_img'].data[0].shape) == (2, 3, 16, 16)
    assert batch['gt_semantic_seg'].data[0].dtype == torch.int64
    assert tuple(batch['valid_pseudo_mask'].data[0].shape) == (2, 1, 16, 16)
    assert len(batch['img_metas'].data[0]) == 2 and len(batch['target_img_metas'].data[0]) == 2


def test_eval_pipeline_helper_is_usable_for_targets(tiny_data):
    target = build_dataset(dict(_target_cfg(tiny_data, pipeline=eval_pipeline()), test_mode=True))
    assert tuple(target[0]['img'][0].shape) == (3, 64, 128)
