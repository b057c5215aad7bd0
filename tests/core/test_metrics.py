"""Segmentation metrics (mmseg 0.16 semantics) against an independent confusion-matrix loop."""
import cv2
import numpy as np
import pytest

from mmseg.core.evaluation import (eval_metrics, intersect_and_union, mean_dice, mean_fscore,
                                   mean_iou, total_intersect_and_union)

NUM_CLASSES = 5


def _confusion(preds, labels, num_classes=NUM_CLASSES, ignore_index=255):
    """Confusion matrix (rows: label, cols: prediction) filled pixel by pixel; labels or
    predictions outside [0, num_classes) are skipped."""
    confusion = np.zeros((num_classes, num_classes))
    for pred, label in zip(preds, labels):
        for p, t in zip(pred.ravel().tolist(), label.ravel().tolist()):
            if t != ignore_index and 0 <= t < num_classes and 0 <= p < num_classes:
                confusion[t, p] += 1
    return confusion


def _expected(confusion, beta=1):
    tp = np.diag(confusion)
    label_area, pred_area = confusion.sum(1), confusion.sum(0)
    with np.errstate(divide='ignore', invalid='ignore'):
        precision, recall = tp / pred_area, tp / label_area
        # F-beta from the counts: (1 + b²)TP / ((1 + b²)TP + b²FN + FP), 0 when never hit.
        false_neg, false_pos = label_area - tp, pred_area - tp
        fscore = (1 + beta ** 2) * tp / ((1 + beta ** 2) * tp + beta ** 2 * false_neg + false_pos)
        return dict(aAcc=tp.sum() / confusion.sum(), IoU=tp / (label_area + pred_area - tp),
                    Acc=recall, Dice=2 * tp / (label_area + pred_area), Precision=precision,
                    Recall=recall, Fscore=fscore)


def _random_pair(seed, shape=(24, 32)):
    rng = np.random.RandomState(seed)
    label = rng.randint(0, NUM_CLASSES - 1, size=shape)  # class 4 never in the labels
    label[rng.rand(*shape) < 0.1] = 255
    pred = np.where(rng.rand(*shape) < 0.6, label, rng.randint(0, NUM_CLASSES, size=shape))
    pred[pred == 255] = 0
    return pred, label


def test_all_metrics_match_the_confusion_matrix():
    preds, labels = zip(*[_random_pair(seed) for seed in range(3)])
    expected = _expected(_confusion(preds, labels))
    ret = eval_metrics(list(preds), list(labels), NUM_CLASSES, 255,
                       metrics=['mIoU', 'mDice', 'mFscore'])
    assert list(ret) == ['aAcc', 'IoU', 'Acc', 'Dice', 'Fscore', 'Precision', 'Recall']
    for key, value in ret.items():
        np.testing.assert_allclose(value, expected[key], rtol=1e-12, equal_nan=True)
    assert np.isnan(ret['Acc'][4]) and ret['IoU'][4] == 0  # predicted, never labelled
    beta2 = mean_fscore(list(preds), list(labels), NUM_CLASSES, 255, beta=2)
    np.testing.assert_allclose(beta2['Fscore'], _expected(_confusion(preds, labels), 2)['Fscore'],
                               equal_nan=True)
    assert set(mean_iou(list(preds), list(labels), NUM_CLASSES, 255)) == {'aAcc', 'IoU', 'Acc'}
    dice = mean_dice(list(preds), list(labels), NUM_CLASSES, 255, nan_to_num=-1)
    assert dice['Acc'][4] == -1 and set(dice) == {'aAcc', 'Dice', 'Acc'}


def test_areas_of_one_image_by_hand():
    pred = np.array([[0, 0, 1], [1, 2, 2]])
    label = np.array([[0, 1, 1], [255, 2, 0]])
    intersect, union, pred_area, label_area = intersect_and_union(pred, label, 3, 255)
    np.testing.assert_array_equal(intersect, [1, 1, 1])
    np.testing.assert_array_equal(pred_area, [2, 1, 2])  # the ignored pixel is not counted
    np.testing.assert_array_equal(label_area, [2, 2, 1])
    np.testing.assert_array_equal(union, [3, 2, 2])
    totals = total_intersect_and_union([pred, pred], [label, label], 3, 255)
    np.testing.assert_array_equal(totals[0], [2, 2, 2])


def test_label_map_reduce_zero_label_and_files(tmp_path):
    pred = np.array([[0, 1, 2, 3]])
    label = np.array([[1, 2, 0, 4]], dtype=np.uint8)
    # reduce_zero_label: 0 → ignored, k → k - 1: label becomes [0, 1, ignore, 3]
    intersect, _, _, label_area = intersect_and_union(pred, label, 4, 255, reduce_zero_label=True)
    np.testing.assert_array_equal(intersect, [1, 1, 0, 1])
    np.testing.assert_array_equal(label_area, [1, 1, 0, 1])
    # label_map applies all at once: 1 → 0 and 0 → 1 swap
    intersect, _, _, _ = intersect_and_union(pred, label, 4, 255, label_map={1: 0, 0: 1})
    np.testing.assert_array_equal(intersect, [1, 0, 0, 0])

    np.save(tmp_path / 'pred.npy', pred)
    cv2.imwrite(str(tmp_path / 'label.png'), label)
    from_files = intersect_and_union(str(tmp_path / 'pred.npy'), str(tmp_path / 'label.png'),
                                     4, 255)
    from_arrays = intersect_and_union(pred, label, 4, 255)
    for a, b in zip(from_files, from_arrays):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(FileNotFoundError, match='missing.npy'):
        intersect_and_union(str(tmp_path / 'missing.npy'), label, 4, 255)


def test_bad_arguments_are_named():
    pred, label = _random_pair(0)
    with pytest.raises(KeyError, match='mAP'):
        eval_metrics([pred], [label], NUM_CLASSES, 255, metrics=['mIoU', 'mAP'])
    with pytest.raises(ValueError, match='shape'):
        intersect_and_union(pred[:3], label, NUM_CLASSES, 255)
    with pytest.raises(ValueError, match='2 predictions but 1 label'):
        total_intersect_and_union([pred, pred], [label], NUM_CLASSES, 255)


def test_each_wrapper_gives_its_own_metrics_and_forwards_label_map_and_reduce_zero_label():
    preds, labels = zip(*[_random_pair(seed) for seed in range(2)])
    expected = _expected(_confusion(preds, labels))
    for wrapper, keys in ((mean_iou, ('IoU', 'Acc')), (mean_dice, ('Dice', 'Acc')),
                          (mean_fscore, ('Fscore', 'Precision', 'Recall'))):
        ret = wrapper(list(preds), list(labels), NUM_CLASSES, 255)
        for key in ('aAcc',) + keys:
            np.testing.assert_allclose(ret[key], expected[key], rtol=1e-12, equal_nan=True)
    # label [1, 2, 0, 4] reduced → [0, 1, ignore, 3]; then a label_map on the raw label
    pred, label = np.array([[0, 1, 2, 3]]), np.array([[1, 2, 0, 4]], dtype=np.uint8)
    for wrapper in (mean_iou, mean_dice, mean_fscore):
        ret = wrapper([pred], [label], 4, 255, reduce_zero_label=True)
        assert ret['aAcc'] == 1.0  # 3 valid pixels, all right
        ret = wrapper([pred], [label], 4, 255, label_map={4: 3, 1: 0})
        # raw label with 4 → 3 and 1 → 0: [0, 2, 0, 3] against [0, 1, 2, 3]: 2 of 4 right
        assert ret['aAcc'] == 0.5
    ret = eval_metrics([pred], [label], 4, 255, ['mIoU'], nan_to_num=-1, reduce_zero_label=True)
    np.testing.assert_array_equal(ret['IoU'], [1, 1, -1, 1])


def test_fscore_of_a_class_present_but_never_hit_is_zero_and_equals_dice():
    """Class 1 is in prediction and label but never at the same pixel: F1 = Dice = 0 (not NaN);
    class 3 is absent from both: NaN for both."""
    label = np.array([[0, 0, 1, 1], [2, 2, 0, 0]])
    pred = np.array([[1, 0, 0, 0], [2, 2, 1, 0]])
    ret = eval_metrics([pred], [label], 4, 255, metrics=['mDice', 'mFscore'])
    # By hand: class 0 TP 2, |pred| 4, |label| 4 -> 4/8; class 1 TP 0 -> 0; class 2 TP 2 -> 1.
    np.testing.assert_allclose(ret['Dice'], [0.5, 0.0, 1.0, np.nan], equal_nan=True)
    np.testing.assert_allclose(ret['Fscore'], ret['Dice'], rtol=1e-12, equal_nan=True)
    assert ret['Precision'][1] == 0 and ret['Recall'][1] == 0
    assert np.nanmean(ret['Fscore']) == pytest.approx(np.nanmean(ret['Dice']))
