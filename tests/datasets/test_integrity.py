"""mmseg.datasets.integrity and its use when a dataset is built: bad files are named at build
time (val/test: every label decoded; training: headers)."""
import cv2
import numpy as np
import pytest

from mmseg.datasets import CustomDataset
from mmseg.datasets.integrity import check_files, map_value_counts, suffix_hint
from mmseg.utils.errors import UserInputError


def _write(root, labels, image_shapes=None, suffix='.png'):
    (root / 'img').mkdir(parents=True, exist_ok=True)
    (root / 'ann').mkdir(parents=True, exist_ok=True)
    for i, label in enumerate(labels):
        shape = (image_shapes or {}).get(i, label.shape)
        cv2.imwrite(str(root / 'img' / f'{i}{suffix}'), np.full(shape + (3,), 90, np.uint8))
        cv2.imwrite(str(root / 'ann' / f'{i}.png'), label.astype(np.uint8))


def _dataset(root, test_mode, **kwargs):
    return CustomDataset(pipeline=[], img_dir=str(root / 'img'), img_suffix='.png',
                         ann_dir=str(root / 'ann'), classes=('a', 'b', 'c'),
                         test_mode=test_mode, **kwargs)


def test_val_set_counts_label_values_of_every_file(tmp_path):
    labels = [np.zeros((4, 6)), np.full((4, 6), 2), np.full((4, 6), 255)]
    labels[0][0, :3] = [1, 1, 2]
    _write(tmp_path, labels)
    dataset = _dataset(tmp_path, test_mode=True)
    assert dataset.label_value_counts == {0: 21, 1: 2, 2: 25, 255: 24}


@pytest.mark.parametrize('damage', ['truncate', 'garbage'])
def test_bad_val_image_is_named_when_the_dataset_is_built(tmp_path, damage):
    _write(tmp_path, [np.zeros((16, 16))] * 3)
    bad = tmp_path / 'img' / '1.png'
    if damage == 'truncate':
        bad.write_bytes(bad.read_bytes()[:-20])  # header intact, end chunk gone
    else:
        bad.write_bytes(b'<html>404</html>')
    with pytest.raises(UserInputError, match=r'1 bad file\(s\) among the 3 image/label pairs.*'
                       + str(bad)):
        _dataset(tmp_path, test_mode=True)


def test_truncated_val_jpeg_is_named_when_the_dataset_is_built(tmp_path):
    """PIL's verify() checks little of a JPEG: a truncated val JPEG was found only by the
    evaluations, after training (reported with `head -c 4000 x.jpg`)."""
    rng = np.random.default_rng(0)
    (tmp_path / 'img').mkdir()
    (tmp_path / 'ann').mkdir()
    for i in range(2):
        cv2.imwrite(str(tmp_path / 'img' / f'{i}.jpg'), rng.integers(0, 255, (64, 64, 3),
                                                                     dtype=np.uint8))
        cv2.imwrite(str(tmp_path / 'ann' / f'{i}.png'), np.zeros((64, 64), np.uint8))
    kwargs = dict(pipeline=[], img_dir=str(tmp_path / 'img'), img_suffix='.jpg',
                  ann_dir=str(tmp_path / 'ann'), classes=('a', 'b', 'c'), test_mode=True)
    assert len(CustomDataset(**kwargs)) == 2
    bad = tmp_path / 'img' / '1.jpg'
    bad.write_bytes(bad.read_bytes()[:len(bad.read_bytes()) // 2])  # header intact
    with pytest.raises(UserInputError, match=str(bad) + ' is damaged or truncated'):
        CustomDataset(**kwargs)


def test_truncated_image_passes_the_cheap_training_check(tmp_path):
    _write(tmp_path, [np.zeros((16, 16))] * 2)
    bad = tmp_path / 'img' / '1.png'
    bad.write_bytes(bad.read_bytes()[:-20])
    assert len(_dataset(tmp_path, test_mode=False)) == 2  # header only: cheap
    bad.write_bytes(b'garbage')
    with pytest.raises(UserInputError, match=str(bad) + r' is not a readable image'):
        _dataset(tmp_path, test_mode=False)


def test_val_label_values_outside_the_classes_are_named(tmp_path):
    labels = [np.zeros((4, 4)), np.full((4, 4), 3), np.full((4, 4), 7)]
    _write(tmp_path, labels)
    with pytest.raises(UserInputError) as info:
        _dataset(tmp_path, test_mode=True)
    message = str(info.value)
    assert '2 bad file(s)' in message
    assert f'label {tmp_path}/ann/1.png holds values [3]' in message
    assert f'label {tmp_path}/ann/2.png holds values [7]' in message
    assert 'expected classes 0..2 or the ignore index 255' in message
    # reduce_zero_label: stored 1..3 are the classes 0..2, 0 is ignored
    labels = [np.zeros((4, 4)), np.full((4, 4), 3), np.full((4, 4), 1)]
    _write(tmp_path / 'r', labels)
    assert _dataset(tmp_path / 'r', True, reduce_zero_label=True).label_value_counts == {
        255: 16, 2: 16, 0: 16}


def test_size_mismatch_is_an_error_for_val_and_a_warning_for_training(tmp_path, caplog):
    _write(tmp_path, [np.zeros((16, 16)), np.zeros((12, 16))], image_shapes={1: (16, 16)})
    with pytest.raises(UserInputError, match=r'1\.png is 16x16 \(HxW\) but its label .*ann/'
                       r'1\.png is 12x16'):
        _dataset(tmp_path, test_mode=True)
    _dataset(tmp_path, test_mode=False)
    assert '1 training image(s)' in caplog.text and 'is 12x16' in caplog.text


def test_missing_labels_are_named_with_the_suffixes_the_folder_holds(tmp_path):
    _write(tmp_path, [np.zeros((4, 4))] * 2)
    for path in (tmp_path / 'ann').iterdir():
        path.rename(path.with_name(path.stem + '_labelTrainIds.png'))
    with pytest.raises(UserInputError) as info:
        _dataset(tmp_path, test_mode=False)
    message = str(info.value)
    assert f'label {tmp_path}/ann/0.png not found' in message
    assert 'none in .png' not in message  # .png files exist: the stems differ
    assert suffix_hint(str(tmp_path / 'ann'), '_gt.png', 'seg_map_suffix').endswith(
        'none in _gt.png: set seg_map_suffix to the suffix of your files')


def test_wrong_img_suffix_names_the_folders_suffixes(tmp_path):
    _write(tmp_path, [np.zeros((4, 4))] * 3, suffix='.jpg')
    with pytest.raises(UserInputError, match=r'no \*\.png images under .*holds 3 file\(s\) '
                       r'ending in \.jpg \(e\.g\. \d\.jpg\), none in \.png: set img_suffix'):
        _dataset(tmp_path, test_mode=False)


def test_map_value_counts_applies_label_map_then_reduce_zero():
    counts = np.bincount([0, 0, 1, 2, 2, 2, 255], minlength=256)
    assert map_value_counts(counts) == {0: 2, 1: 1, 2: 3, 255: 1}
    assert map_value_counts(counts, label_map={2: 255, 1: 0}) == {0: 3, 255: 4}
    assert map_value_counts(counts, reduce_zero_label=True) == {255: 3, 0: 1, 1: 3}


def test_check_files_without_labels_checks_images_only(tmp_path):
    _write(tmp_path, [np.zeros((4, 4))])
    result = check_files([str(tmp_path / 'img' / '0.png')], decode_labels=True)
    assert result.num_decoded == 0 and not result.value_counts
