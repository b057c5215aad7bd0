"""CustomDataset through the concrete datasets: file discovery, classes, evaluate, errors."""
import os.path as osp
import re
import shutil

import numpy as np
import pytest
from dataset_test_utils import eval_pipeline, iou_by_confusion_loop, train_pipeline

from mmseg.datasets import CityscapesDataset, GTADataset, build_dataset


def _val(tiny_data, **kwargs):
    return CityscapesDataset(data_root=str(tiny_data.cityscapes), img_dir='leftImg8bit/val',
                             ann_dir='gtFine/val', pipeline=eval_pipeline(), test_mode=True,
                             **kwargs)


def test_images_found_recursively_sorted_with_label_names(tiny_data):
    dataset = CityscapesDataset(data_root=str(tiny_data.cityscapes), img_dir='leftImg8bit/train',
                                ann_dir='gtFine/train', pipeline=train_pipeline())
    assert [info['filename'] for info in dataset.img_infos] == [
        'aachen/aachen_000000_000019_leftImg8bit.png',
        'bochum/bochum_000000_000313_leftImg8bit.png']
    assert (dataset.img_infos[1]['ann']['seg_map']
            == 'bochum/bochum_000000_000313_gtFine_labelTrainIds.png')
    assert dataset.img_dir == osp.join(str(tiny_data.cityscapes), 'leftImg8bit/train')
    assert len(dataset.CLASSES) == 19 and dataset.PALETTE[13] == [0, 0, 142]
    gta = build_dataset(dict(type='GTADataset', data_root=str(tiny_data.gta), img_dir='images',
                             ann_dir='labels', pipeline=train_pipeline()))
    assert [i['ann']['seg_map'] for i in gta.img_infos] == [
        f'{i:05d}_labelTrainIds.png' for i in range(3)]


def test_split_file_selects_images(tiny_data, tmp_path):
    split = tmp_path / 'val.txt'
    split.write_text('lindau/lindau_000000_000019\n\n')
    dataset = _val(tiny_data, split=str(split))
    assert [i['filename'] for i in dataset.img_infos] == [
        'lindau/lindau_000000_000019_leftImg8bit.png']
    with pytest.raises(FileNotFoundError, match='missing.txt'):
        _val(tiny_data, split=str(tmp_path / 'missing.txt'))


def test_gt_seg_map_and_class_subset(tiny_data):
    stem = 'val/frankfurt/frankfurt_000000_000294'
    label = tiny_data.labels[('cityscapes', stem)]
    np.testing.assert_array_equal(_val(tiny_data).get_gt_seg_map_by_idx(0), label)
    subset = _val(tiny_data, classes=('sky', 'road'))
    assert subset.CLASSES == ('sky', 'road') and subset.PALETTE == [[70, 130, 180], [128, 64, 128]]
    expected = np.where(label == 10, 0, np.where(label == 0, 1, 255))
    np.testing.assert_array_equal(subset.get_gt_seg_map_by_idx(0), expected)
    with pytest.raises(ValueError, match='lorry'):
        _val(tiny_data, classes=('road', 'lorry'))


def test_evaluate_dict_and_tables_match_confusion_matrix(tiny_data, capsys, tmp_path):
    dataset = _val(tiny_data)
    labels = [dataset.get_gt_seg_map_by_idx(i) for i in range(2)]
    preds = [np.where(labels[0] == 13, 0, labels[0]),  # cars called road
             np.where(labels[1] == 255, 8, labels[1])]
    preds[1][:8, :16] = 2  # some sky called building
    iou, acc, aacc = iou_by_confusion_loop(preds, labels, 19)
    results = dataset.evaluate(preds, metric='mIoU')
    assert results['aAcc'] == pytest.approx(round(aacc * 100, 2) / 100)
    assert results['mIoU'] == pytest.approx(round(np.nanmean(iou) * 100, 2) / 100)
    assert results['mAcc'] == pytest.approx(round(np.nanmean(acc) * 100, 2) / 100)
    assert results['IoU.road'] == pytest.approx(round(iou[0] * 100, 2) / 100)
    assert results['IoU.car'] == 0.0
    assert results['Acc.sky'] == pytest.approx(round(acc[10] * 100, 2) / 100)
    assert np.isnan(results['IoU.train'])  # absent from labels and predictions
    printed = capsys.readouterr().out
    assert 'per class results' in printed and 'Summary' in printed
    assert re.search(r'\|\s+traffic sign\s+\|', printed) and re.search(r'\|\s+mIoU\s+\|', printed)

    paths = []
    for i, pred in enumerate(preds):  # efficient_test style: .npy files
        paths.append(str(tmp_path / f'{i}.npy'))
        np.save(paths[-1], pred)
    from_files = dataset.evaluate(paths, metric=['mIoU', 'mDice', 'mFscore'])
    assert from_files['mIoU'] == results['mIoU']
    # Dice = 2·IoU / (1 + IoU) per class
    assert from_files['Dice.road'] == pytest.approx(round(2 * iou[0] / (1 + iou[0]) * 100, 2) / 100)
    assert from_files['Recall.sky'] == results['Acc.sky']
    assert {'mDice', 'mFscore', 'mPrecision', 'mRecall', 'Fscore.car'} <= set(from_files)


def test_evaluate_rejects_bad_input(tiny_data):
    dataset = _val(tiny_data)
    labels = [dataset.get_gt_seg_map_by_idx(i) for i in range(2)]
    with pytest.raises(KeyError, match='mAP'):
        dataset.evaluate(labels, metric='mAP')
    with pytest.raises(ValueError, match='1 results for 2 images'):
        dataset.evaluate(labels[:1])


def test_missing_folders_name_the_folder_and_the_converter(tiny_data, tmp_path):
    with pytest.raises(FileNotFoundError) as error:
        CityscapesDataset(data_root=str(tmp_path / 'cityscapes'), img_dir='leftImg8bit/train',
                          ann_dir='gtFine/train', pipeline=[])
    message = str(error.value)
    assert str(tmp_path / 'cityscapes' / 'leftImg8bit' / 'train') in message
    assert 'tools/convert_datasets/cityscapes.py' in message and 'docs/dataset_prepare.md' in message
    with pytest.raises(FileNotFoundError, match='labels_missing.*convert_datasets/gta.py'):
        GTADataset(data_root=str(tiny_data.gta), img_dir='images', ann_dir='labels_missing',
                   pipeline=[])
    (tmp_path / 'empty').mkdir()
    with pytest.raises(FileNotFoundError, match=r'no \*.png images'):
        GTADataset(img_dir=str(tmp_path / 'empty'), pipeline=[])


def test_missing_or_corrupt_files_name_the_file(tiny_data, tmp_path):
    root = tmp_path / 'gta'
    shutil.copytree(tiny_data.gta, root)
    # Damaged after the dataset was built (which checks the files: tests/datasets/
    # test_integrity.py): the loaders still name the file.
    dataset = GTADataset(data_root=str(root), img_dir='images', ann_dir='labels',
                         pipeline=train_pipeline())
    (root / 'labels' / '00001_labelTrainIds.png').unlink()
    (root / 'images' / '00002.png').write_bytes(b'not a png at all')
    (root / 'labels' / '00000_labelTrainIds.png').write_bytes(b'\x89PNG broken')
    with pytest.raises(ValueError, match='cannot decode the label file .*00000_labelTrainIds.png'):
        dataset[0]
    with pytest.raises(FileNotFoundError, match='label file not found: .*00001_labelTrainIds.png'):
        dataset[1]
    with pytest.raises(ValueError, match='cannot decode the image file .*images/00002.png'):
        dataset[2]
    (root / 'images' / '00001.png').unlink()
    with pytest.raises(FileNotFoundError, match='image file not found: .*images/00001.png'):
        dataset[1]


def test_mmseg_0x_get_gt_seg_maps_and_load_annotations_override(tmp_path):
    import cv2

    from mmseg.datasets import CustomDataset
    (tmp_path / 'img').mkdir()
    (tmp_path / 'ann').mkdir()
    labels = [np.full((4, 6), 2, np.uint8), np.arange(24, dtype=np.uint8).reshape(4, 6) % 3]
    for i, label in enumerate(labels):
        cv2.imwrite(str(tmp_path / 'img' / f'{i}.png'), np.zeros((4, 6, 3), np.uint8))
        cv2.imwrite(str(tmp_path / 'ann' / f'{i}.png'), label)
    dataset = CustomDataset(pipeline=[], img_dir=str(tmp_path / 'img'), img_suffix='.png',
                            ann_dir=str(tmp_path / 'ann'), classes=('a', 'b', 'c'),
                            palette=[[0, 0, 0]] * 3)
    maps = dataset.get_gt_seg_maps()
    assert len(maps) == 2
    for got, expected in zip(maps, labels):
        np.testing.assert_array_equal(got, expected)
    assert dataset.get_gt_seg_maps(efficient_test=True) == [
        str(tmp_path / 'ann' / '0.png'), str(tmp_path / 'ann' / '1.png')]

    class FromList(CustomDataset):
        """Reads its items from elsewhere (e.g. a zip): img_dir need not exist."""

        def load_annotations(self, img_dir, img_suffix, ann_dir, seg_map_suffix, split):
            return [dict(filename='a.jpg', ann=dict(seg_map='a.png'))]

    listed = FromList(pipeline=[], img_dir=str(tmp_path / 'nowhere'), ann_dir='also_nowhere')
    assert len(listed) == 1
    with pytest.raises(FileNotFoundError, match='nowhere'):
        CustomDataset(pipeline=[], img_dir=str(tmp_path / 'nowhere'))


# ----------------------------------------------------------------------------- mmseg 0.x
@pytest.mark.parametrize('classes,expected', [
    (['sky', 'road'], ['sky', 'road']),  # a list stays a list (mmseg 0.x)
    (('sky', 'road'), ('sky', 'road')),
])
def test_classes_keep_the_type_given(tiny_data, classes, expected):
    dataset = _val(tiny_data, classes=classes)
    assert dataset.CLASSES == expected and type(dataset.CLASSES) is type(expected)
    assert dataset.PALETTE == [[70, 130, 180], [128, 64, 128]]


def test_classes_from_a_file_are_a_list_and_other_types_are_refused(tiny_data, tmp_path):
    from mmseg.utils import UserInputError
    names = tmp_path / 'classes.txt'
    names.write_text('road\ncar\n')
    assert _val(tiny_data, classes=str(names)).CLASSES == ['road', 'car']
    with pytest.raises(TypeError, match='classes must be a list or tuple of names or a file'):
        _val(tiny_data, classes={'road': 0})
    with pytest.raises(UserInputError, match="classes \\['lorry'\\] are not classes"):
        _val(tiny_data, classes=['road', 'lorry'])


def test_uda_dataset_accepts_the_same_classes_as_list_and_tuple(tiny_data):
    from mmseg.datasets import UDADataset
    names = ['road', 'sidewalk']
    source = GTADataset(data_root=str(tiny_data.gta), img_dir='images', ann_dir='labels',
                        pipeline=train_pipeline(), classes=names)
    target = CityscapesDataset(data_root=str(tiny_data.cityscapes),
                               img_dir='leftImg8bit/train', ann_dir='gtFine/train',
                               pipeline=train_pipeline(), classes=tuple(names))
    assert list(UDADataset(source, target, dict()).CLASSES) == names


@pytest.mark.parametrize('test_mode', [False, True])
def test_images_only_dataset_loads_and_evaluate_says_it_has_no_labels(tiny_data, test_mode):
    from mmseg.datasets import CustomDataset
    from mmseg.utils import UserInputError
    img_dir = str(tiny_data.cityscapes / 'leftImg8bit' / 'val')
    dataset = CustomDataset(pipeline=eval_pipeline(), img_dir=img_dir, img_suffix='.png',
                            test_mode=test_mode)
    assert [info['filename'] for info in dataset.img_infos] == [
        'frankfurt/frankfurt_000000_000294_leftImg8bit.png',
        'lindau/lindau_000000_000019_leftImg8bit.png']
    item = dataset[1]
    assert tuple(item['img'][0].shape) == (3, 64, 128)
    assert item['img_metas'][0].data['ori_filename'] == dataset.img_infos[1]['filename']
    prediction = np.zeros((32, 64), dtype=np.int64)
    with pytest.raises(UserInputError) as info:
        dataset.evaluate([prediction, prediction])
    message = str(info.value)
    assert message.startswith(f'CustomDataset of {img_dir} has no ann_dir: no labels')
    assert '--format-only' in message and '\n' not in message
    labelled_class = CityscapesDataset(data_root=str(tiny_data.cityscapes),
                                       img_dir='leftImg8bit/val', pipeline=eval_pipeline())
    with pytest.raises(UserInputError, match='CityscapesDataset of .* has no ann_dir'):
        labelled_class.evaluate([prediction, prediction])
