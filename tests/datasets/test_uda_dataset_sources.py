"""UDADataset with several sources (docs/domains.md): mixing by size or by weight, rare-class
sampling over the union of the sources, and a plain list of training sets."""
import math
import shutil
from types import SimpleNamespace

import numpy as np
import pytest
from dataset_test_utils import train_pipeline, write_rcs_stats

from mmseg.apis.checks import data_sides
from mmseg.datasets import build_dataset
from mmseg.utils.errors import UserInputError

RCS = dict(min_pixels=100, class_temp=0.1, min_crop_ratio=0)


@pytest.fixture(scope='module')
def two_sources(tiny_data, tmp_path_factory):
    """Configs of tiny GTA (3 files) and tiny Synthia (2 files, with its RCS statistics)."""
    synthia = tmp_path_factory.mktemp('sources') / 'synthia'
    shutil.copytree(tiny_data.synthia, synthia)
    write_rcs_stats(synthia, {f'{synthia}/GT/LABELS/{name}_labelTrainIds.png': label
                              for (dataset, name), label in tiny_data.labels.items()
                              if dataset == 'synthia'})
    pipeline = train_pipeline(crop=(16, 16))
    gta = dict(type='GTADataset', data_root=str(tiny_data.gta), img_dir='images',
               ann_dir='labels', pipeline=pipeline)
    syn = dict(type='SynthiaDataset', data_root=str(synthia), img_dir='RGB', ann_dir='GT/LABELS',
               pipeline=pipeline)
    target = dict(type='CityscapesDataset', data_root=str(tiny_data.cityscapes),
                  img_dir='leftImg8bit/train', ann_dir='gtFine/train', pipeline=pipeline)
    return gta, syn, target


def _labels(tiny_data):
    """[(source k, label array)] in the order of the union's indices: GTA 0-2, Synthia 0-1."""
    return [(0 if name == 'gta' else 1, label)
            for name in ('gta', 'synthia')
            for (dataset, _), label in sorted(tiny_data.labels.items()) if dataset == name]


def _expected_file_probs(tiny_data, weights=None):
    """P(file) = Σ_c P(c) · P(file | c) with P(c) = softmax((1 − f_c)/T) over the summed pixel
    counts of both sources, and P(file | c) = w_k / Σ_k' w_k' / n_k,c over the sources k' with
    files of more than min_pixels of c (uniform over all those files without weights)."""
    labels = _labels(tiny_data)
    counts = {}
    for _, label in labels:
        for c in np.unique(label[label != 255]):
            counts[int(c)] = counts.get(int(c), 0) + int(np.sum(label == c))
    total = sum(counts.values())
    exp = {c: math.exp((1 - n / total) / RCS['class_temp']) for c, n in counts.items()}
    expected = np.zeros(len(labels))
    for c, e in exp.items():
        p_class = e / sum(exp.values())
        files = [i for i, (_, label) in enumerate(labels) if np.sum(label == c) > 100]
        sources = {labels[i][0] for i in files}
        if weights is not None and sum(weights[s] for s in sources) == 0:
            continue  # only sources of weight 0 have c: never drawn (renormalised below)
        for i in files:
            k = labels[i][0]
            n_kc = sum(1 for j in files if labels[j][0] == k)
            if weights is None:
                expected[i] += p_class / len(files)
            else:
                expected[i] += p_class * weights[k] / sum(weights[s] for s in sources) / n_kc
    return expected / expected.sum()


class _IndexDataset:
    """Stand-in source/target: a sample only says which source and index were loaded."""

    def __init__(self, length, source=0):
        self.length, self.source_id = length, source

    def __getitem__(self, idx):
        return dict(source=self.source_id, idx=idx, img=None, img_metas=None)

    def __len__(self):
        return self.length


def _assert_frequencies(observed, expected, num_draws):
    # 4.5 binomial standard deviations: a seeded draw, so the test is deterministic.
    for obs, p in zip(observed, expected):
        assert abs(obs - p) <= 4.5 * math.sqrt(p * (1 - p) / num_draws) + 1e-9, (observed,
                                                                               expected)


@pytest.mark.parametrize('weights', [None, [1, 3]])
def test_two_source_rcs_draws_files_of_both_sources_with_hand_computed_probabilities(
        tiny_data, two_sources, weights):
    gta, syn, target = two_sources
    extra = {} if weights is None else dict(source_weights=weights)
    dataset = build_dataset(dict(type='UDADataset', source=[gta, syn], target=target,
                                 rare_class_sampling=RCS, **extra))
    assert len(dataset) == (3 + 2) * 2 and dataset.CLASSES == dataset.target.CLASSES
    # Candidates keep their source: class 11 (person) is only in Synthia file 0.
    assert dataset.samples_with_class[11] == ['1/0000000_labelTrainIds.png']
    expected = _expected_file_probs(tiny_data, weights)
    assert expected[:3].sum() > 0.05 and expected[3:].sum() > 0.05  # both sources matter
    dataset.source, dataset.target = _IndexDataset(5), _IndexDataset(2)
    np.random.seed(0)
    num_draws = 3000
    drawn = np.bincount([dataset[0]['idx'] for _ in range(num_draws)], minlength=5)
    _assert_frequencies(drawn / num_draws, expected, num_draws)


@pytest.mark.parametrize('weights', [[0, 1], [1, 0]])
def test_a_source_of_weight_0_is_never_drawn_under_rcs(tiny_data, two_sources, weights):
    """docs/domains.md: classes that only a source of weight 0 has are left out and P(c) is
    renormalised over the rest."""
    gta, syn, target = two_sources
    dataset = build_dataset(dict(type='UDADataset', source=[gta, syn], target=target,
                                 rare_class_sampling=RCS, source_weights=weights))
    # Class 11 (person) is only in Synthia file 0: left out when Synthia has weight 0.
    assert (11 in dataset.rcs_classes) == (weights[1] > 0)
    assert dataset.rcs_classprob.sum() == pytest.approx(1)
    expected = _expected_file_probs(tiny_data, weights)
    zero = slice(0, 3) if weights[0] == 0 else slice(3, 5)
    assert expected[zero].sum() == 0
    dataset.source, dataset.target = _IndexDataset(5), _IndexDataset(2)
    np.random.seed(2)
    num_draws = 2000
    drawn = np.bincount([dataset[0]['idx'] for _ in range(num_draws)], minlength=5)
    assert drawn[zero].sum() == 0
    _assert_frequencies(drawn / num_draws, expected, num_draws)


@pytest.mark.parametrize('weights, bad', [(1, None), ([1, float('nan')], 'nan'),
                                          ([1, float('inf')], 'inf'), ([1, '2'], "'2'"),
                                          ([1, -1], '-1'), ([0, 0], None), ([1, 1, 1], None)])
def test_bad_source_weights_are_refused_in_one_line(two_sources, weights, bad):
    gta, syn, target = two_sources
    with pytest.raises(UserInputError) as error:
        build_dataset(dict(type='UDADataset', source=[gta, syn], target=target,
                           source_weights=weights))
    message = str(error.value)
    assert '\n' not in message and 'data.train.source_weights = ' in message
    assert 'expected 2 finite numbers >= 0' in message and 'not all 0' in message
    if bad is not None:
        assert f'{bad} is not a finite number >= 0' in message


def test_source_weights_without_rcs_are_honoured(two_sources):
    gta, syn, target = two_sources
    dataset = build_dataset(dict(type='UDADataset', source=[gta, syn], target=target,
                                 source_weights=[1, 4]))
    dataset.sources = [_IndexDataset(3, source=0), _IndexDataset(2, source=1)]
    dataset.target = _IndexDataset(2)
    np.random.seed(1)
    num_draws = 2000
    items = [dataset[i % 10] for i in range(num_draws)]
    from_second = sum(item['source'] for item in items) / num_draws
    _assert_frequencies([from_second], [4 / 5], num_draws)
    # Within a source, every file is drawn (uniformly).
    assert {item['idx'] for item in items if item['source'] == 1} == {0, 1}


def test_without_weights_the_index_runs_over_the_sources_in_turn(two_sources):
    gta, syn, target = two_sources
    dataset = build_dataset(dict(type='UDADataset', source=[gta, syn], target=target))
    names = [dataset[i]['img_metas'].data['ori_filename'] for i in range(0, 10, 2)]
    assert names == ['00000.png', '00001.png', '00002.png', '0000000.png', '0000001.png']
    keys = [side.key for side in data_sides('data.train', dict(
        type='UDADataset', source=[gta, syn], target=target), dataset)]
    assert keys == ['data.train.source[0]', 'data.train.source[1]', 'data.train.target']


def test_bad_source_weights_and_mismatched_classes_name_the_key(two_sources):
    gta, syn, target = two_sources
    with pytest.raises(UserInputError, match=r'data.train.source_weights = \[1\]: expected 2'):
        build_dataset(dict(type='UDADataset', source=[gta, syn], target=target,
                           source_weights=[1]))
    other = dict(syn, classes=['road', 'sidewalk', 'building'])  # a subset: other classes
    with pytest.raises(UserInputError, match=r'data.train.source\[0\] and data.train.source\[1\] '
                       'have different CLASSES'):
        build_dataset(dict(type='UDADataset', source=[gta, other], target=target))
    with pytest.raises(UserInputError, match=r'datasets\[0\] and datasets\[1\] have different '
                       'CLASSES'):
        build_dataset([gta, other])


def test_a_plain_list_of_training_sets_carries_their_classes(two_sources):
    gta, syn, _ = two_sources
    dataset = build_dataset([gta, syn])
    assert len(dataset) == 5 and dataset.CLASSES == dataset.datasets[0].CLASSES
    assert dataset.ignore_index == 255 and dataset.PALETTE is not None
    assert dataset[4]['img_metas'].data['ori_filename'] == '0000001.png'


def test_without_a_target_items_are_rare_class_sampled_source_samples(tiny_data, two_sources):
    """Source-only training with rare-class sampling (docs/domains.md): no target keys."""
    gta, _, _ = two_sources
    dataset = build_dataset(dict(type='UDADataset', source=gta, rare_class_sampling=RCS))
    assert len(dataset) == 3 and dataset.CLASSES == dataset.source.CLASSES
    np.random.seed(0)
    item = dataset[0]
    assert set(item) == {'img', 'img_metas', 'gt_semantic_seg'}
    # Files drawn by the rare-class probabilities of tiny GTA alone (computed by hand).
    dataset.source = _IndexDataset(3)
    drawn = np.bincount([dataset[0]['idx'] for _ in range(300)], minlength=3) / 300
    expected = _expected_file_probs(SimpleNamespace(labels={
        key: label for key, label in tiny_data.labels.items() if key[0] == 'gta'}))
    _assert_frequencies(drawn, expected, 300)


def test_checks_read_the_labels_of_every_source(tiny_data, two_sources, tmp_path):
    """docs/CHECKS.md's label-value check covers data.train.source[i], not only the first."""
    import cv2
    from mmcv import Config

    from mmseg.apis.checks import check_consistency
    gta, syn, target = two_sources
    bad = tmp_path / 'synthia'
    shutil.copytree(syn['data_root'], bad)
    label = cv2.imread(str(bad / 'GT/LABELS/0000001_labelTrainIds.png'), cv2.IMREAD_UNCHANGED)
    label[0, 0] = 30  # not a train ID of 19 classes, not the ignore index
    cv2.imwrite(str(bad / 'GT/LABELS/0000001_labelTrainIds.png'), label)
    train = dict(type='UDADataset', source=[gta, dict(syn, data_root=str(bad))], target=target)
    cfg = Config(dict(model=dict(type='EncoderDecoder', decode_head=dict(
        type='DAFormerHead', num_classes=19)), data=dict(train=train)))
    assert check_consistency(cfg, build_dataset(dict(train, source=[gta, syn]))) == []
    with pytest.raises(UserInputError, match=r'0000001_labelTrainIds.png '
                       r'\(data.train.source\[1\]\) holds values \[30\]'):
        check_consistency(cfg, build_dataset(train))
