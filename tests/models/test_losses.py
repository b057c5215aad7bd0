"""Cross-entropy and accuracy against per-pixel loops (docs/REFERENCE.md §2.2)."""
import math

import pytest
import torch

from mmseg.models import build_loss
from mmseg.models.losses import CrossEntropyLoss, accuracy


def _logits_and_labels(seed=0, n=2, c=4, h=3, w=5):
    g = torch.Generator().manual_seed(seed)
    logits = torch.randn(n, c, h, w, generator=g)
    labels = torch.randint(0, c, (n, h, w), generator=g)
    labels[0, 0, :2] = 255
    labels[1, 2, 4] = 255
    return logits, labels


def _loop_ce(logits, labels, weight=None, class_weight=None, ignore_index=255):
    """Per-pixel -log softmax by hand; returns (sum of losses, number of valid pixels)."""
    n, c, h, w = logits.shape
    total, valid = 0.0, 0
    for b in range(n):
        for y in range(h):
            for x in range(w):
                label = int(labels[b, y, x])
                if label == ignore_index:
                    continue
                scores = [float(logits[b, k, y, x]) for k in range(c)]
                log_norm = math.log(sum(math.exp(s) for s in scores))
                loss = log_norm - scores[label]
                if class_weight is not None:
                    loss *= class_weight[label]
                if weight is not None:
                    loss *= float(weight[b, y, x])
                total += loss
                valid += 1
    return total, valid


def test_cross_entropy_averages_over_all_pixels_with_pixel_weights():
    logits, labels = _logits_and_labels()
    weight = torch.rand(labels.shape, generator=torch.Generator().manual_seed(1))
    loss_fn = build_loss(dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=0.5))
    total, _ = _loop_ce(logits, labels, weight)
    expected = 0.5 * total / labels.numel()  # ignored pixels count in the mean
    loss = loss_fn(logits, labels, weight=weight, ignore_index=255)
    assert loss.item() == pytest.approx(expected, rel=1e-5)


def test_cross_entropy_class_weight_and_avg_non_ignore():
    logits, labels = _logits_and_labels(seed=2)
    class_weight = [1.0, 2.0, 0.5, 3.0]
    total, valid = _loop_ce(logits, labels, class_weight=class_weight)
    loss_all = CrossEntropyLoss(class_weight=class_weight)(logits, labels)
    loss_valid = CrossEntropyLoss(class_weight=class_weight, avg_non_ignore=True)(logits, labels)
    assert loss_all.item() == pytest.approx(total / labels.numel(), rel=1e-5)
    assert loss_valid.item() == pytest.approx(total / valid, rel=1e-5)


def test_cross_entropy_custom_ignore_index_and_reductions():
    logits, labels = _logits_and_labels(seed=3)
    labels[labels == 255] = 1  # now class 1 is the one we ignore
    total, _ = _loop_ce(logits, labels, ignore_index=1)
    loss_fn = CrossEntropyLoss(reduction='sum')
    assert loss_fn(logits, labels, ignore_index=1).item() == pytest.approx(total, rel=1e-5)
    per_pixel = loss_fn(logits, labels, ignore_index=1, reduction_override='none')
    assert per_pixel.shape == labels.shape
    assert torch.all(per_pixel[labels == 1] == 0)


def test_cross_entropy_all_ignored_is_zero_and_has_gradient():
    logits = torch.randn(1, 3, 4, 4, requires_grad=True)
    labels = torch.full((1, 4, 4), 255, dtype=torch.long)
    for avg_non_ignore in (False, True):
        loss = CrossEntropyLoss(avg_non_ignore=avg_non_ignore)(logits, labels)
        assert loss.item() == 0.0
    loss.backward()
    assert torch.all(logits.grad == 0)


def test_sigmoid_cross_entropy_matches_loop():
    logits, labels = _logits_and_labels(seed=4, c=3)
    n, c, h, w = logits.shape
    total = 0.0
    for b in range(n):
        for y in range(h):
            for x in range(w):
                if int(labels[b, y, x]) == 255:
                    continue
                for k in range(c):
                    z = float(logits[b, k, y, x])
                    target = 1.0 if int(labels[b, y, x]) == k else 0.0
                    p = 1 / (1 + math.exp(-z))
                    total += -(target * math.log(p) + (1 - target) * math.log(1 - p))
    loss = CrossEntropyLoss(use_sigmoid=True)(logits, labels)
    assert loss.item() == pytest.approx(total / logits.numel(), rel=1e-5)


def test_bad_reduction_is_rejected():
    with pytest.raises(ValueError, match='reduction'):
        CrossEntropyLoss(reduction='avg')


def test_accuracy_counts_only_valid_pixels_in_percent():
    logits, labels = _logits_and_labels(seed=5)
    hits = valid = hits_top2 = 0
    for b in range(labels.shape[0]):
        for y in range(labels.shape[1]):
            for x in range(labels.shape[2]):
                label = int(labels[b, y, x])
                if label == 255:
                    continue
                valid += 1
                ranked = sorted(range(logits.shape[1]), key=lambda k: -float(logits[b, k, y, x]))
                hits += ranked[0] == label
                hits_top2 += label in ranked[:2]
    top1 = accuracy(logits, labels, ignore_index=255)
    both = accuracy(logits, labels, topk=(1, 2), ignore_index=255)
    assert top1.item() == pytest.approx(100.0 * hits / valid)
    assert both[1].item() == pytest.approx(100.0 * hits_top2 / valid)
    assert both[0].item() == top1.item()  # top-1 through topk and through max agree


def test_accuracy_threshold_and_no_valid_pixel():
    pred = torch.tensor([[0.9, 0.6, 0.2], [0.1, 0.4, 0.8]])  # N=3 samples, C=2, as N×C
    pred = pred.t()
    target = torch.tensor([0, 0, 1])
    # Correct: all three; above 0.7: samples 0 and 2.
    assert accuracy(pred, target).item() == pytest.approx(100.0)
    assert accuracy(pred, target, thresh=0.7).item() == pytest.approx(200.0 / 3)
    none_valid = torch.full((3, ), 255)
    assert accuracy(pred, none_valid, ignore_index=255).item() == 0.0


@pytest.mark.parametrize('suffix', ['.npy', '.pkl'])
def test_class_weight_from_a_file(tmp_path, suffix):
    import pickle

    import numpy as np
    class_weight = [1.0, 2.0, 0.5, 3.0]
    path = tmp_path / f'weights{suffix}'
    if suffix == '.npy':
        np.save(path, np.array(class_weight))
    else:
        path.write_bytes(pickle.dumps(class_weight))
    logits, labels = _logits_and_labels(seed=4)
    total, _ = _loop_ce(logits, labels, class_weight=class_weight)
    loss = build_loss(dict(type='CrossEntropyLoss', class_weight=str(path)))(logits, labels)
    assert loss.item() == pytest.approx(total / labels.numel(), rel=1e-5)
    with pytest.raises(FileNotFoundError, match='absent.npy'):
        CrossEntropyLoss(class_weight=str(tmp_path / 'absent.npy'))


def test_use_mask_is_the_sigmoid_loss_of_each_objects_class_mask():
    g = torch.Generator().manual_seed(5)
    mask_logits = torch.randn(3, 4, 2, 2, generator=g)  # 3 objects, 4 classes
    targets = torch.randint(0, 2, (3, 2, 2), generator=g).float()
    classes = torch.tensor([2, 0, 3])
    total = 0.0
    for i in range(3):
        for y in range(2):
            for x in range(2):
                p = 1 / (1 + math.exp(-float(mask_logits[i, classes[i], y, x])))
                t = float(targets[i, y, x])
                total -= t * math.log(p) + (1 - t) * math.log(1 - p)
    loss = CrossEntropyLoss(use_mask=True, loss_weight=2.0)(mask_logits, targets, classes)
    assert loss.shape == (1, )
    assert loss.item() == pytest.approx(2.0 * total / 12, rel=1e-5)
