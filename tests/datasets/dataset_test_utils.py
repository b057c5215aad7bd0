"""Helpers of the dataset tests: tiny datasets in the real Cityscapes, GTA and Synthia layouts
with known labels (64×32 px).

Images are the palette colour (BGR) of their label, so a transformed image can be checked
against its transformed label. Labels are 8×8 blocks of classes.
"""
import json

import cv2
import numpy as np

PALETTE = np.array([[128, 64, 128], [244, 35, 232], [70, 70, 70], [102, 102, 156],
                    [190, 153, 153], [153, 153, 153], [250, 170, 30], [220, 220, 0],
                    [107, 142, 35], [152, 251, 152], [70, 130, 180], [220, 20, 60],
                    [255, 0, 0], [0, 0, 142], [0, 0, 70], [0, 60, 100], [0, 80, 100],
                    [0, 0, 230], [119, 11, 32]], dtype=np.uint8)
HEIGHT, WIDTH = 32, 64


def block_label(blocks):
    """A 32×64 label from a 4×8 grid of class ids (each an 8×8 block)."""
    return np.kron(np.array(blocks, dtype=np.uint8), np.ones((8, 8), dtype=np.uint8))


def label_image(label):
    """BGR image whose pixels are the palette colours of the label (black where ignored)."""
    rgb = np.zeros(label.shape + (3,), dtype=np.uint8)
    valid = label != 255
    rgb[valid] = PALETTE[label[valid]]
    return rgb[..., ::-1].copy()


def write_pair(img_path, label_path, label):
    img_path.parent.mkdir(parents=True, exist_ok=True)
    label_path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(img_path), label_image(label))
    cv2.imwrite(str(label_path), label)


def write_rcs_stats(root, label_files):
    """The three RCS statistics files of docs/REFERENCE.md §1.1 for {path: label array}."""
    stats, stats_dict, with_class = [], {}, {}
    for path, label in label_files.items():
        ids, counts = np.unique(label, return_counts=True)
        entry = {str(int(i)): int(n) for i, n in zip(ids, counts) if i != 255}
        stats.append(dict(entry, file=path))
        stats_dict[path] = entry
        for c, n in entry.items():
            with_class.setdefault(c, []).append([path, n])
    for name, data in [('sample_class_stats.json', stats),
                       ('sample_class_stats_dict.json', stats_dict),
                       ('samples_with_class.json', with_class)]:
        (root / name).write_text(json.dumps(data))


# GTA labels: sky/building on top, road at the bottom. Pixel counts per class (8×8 blocks):
# bicycle 18: 2 blocks (image 2), sidewalk 1: 1 + 2, vegetation 8: 4, car 13: 5 (image 1), then
# sky, building, road; image 0 has ignored pixels.
GTA_BLOCKS = [
    [[10, 10, 10, 10, 2, 2, 2, 2], [2, 2, 2, 2, 8, 8, 8, 8],
     [0, 0, 0, 0, 1, 0, 255, 255], [0, 0, 0, 0, 0, 0, 0, 0]],
    [[10, 10, 10, 10, 10, 10, 10, 10], [2, 2, 13, 13, 2, 2, 2, 2],
     [0, 0, 13, 13, 13, 0, 1, 1], [0, 0, 0, 0, 0, 0, 0, 0]],
    [[10, 10, 10, 10, 10, 10, 10, 10], [2, 2, 2, 2, 2, 2, 2, 2],
     [18, 18, 0, 0, 0, 0, 0, 0], [0, 0, 0, 0, 0, 0, 0, 0]],
]
CS_BLOCKS = {
    'train/aachen/aachen_000000_000019': [[10] * 8, [2, 2, 8, 8, 2, 2, 11, 11],
                                          [0, 0, 0, 0, 13, 13, 1, 1], [0] * 8],
    'train/bochum/bochum_000000_000313': [[10] * 8, [2] * 8, [0, 0, 12, 12, 0, 0, 0, 0], [0] * 8],
    'val/frankfurt/frankfurt_000000_000294': [[10] * 8, [2, 2, 2, 2, 5, 5, 7, 7],
                                              [0, 0, 13, 13, 0, 0, 1, 1], [0, 0, 0, 0, 0, 0, 1, 1]],
    'val/lindau/lindau_000000_000019': [[10, 10, 10, 10, 8, 8, 8, 8], [2] * 8,
                                        [0, 0, 0, 0, 0, 0, 255, 255], [0] * 8],
}
SYNTHIA_BLOCKS = [
    [[10] * 8, [2, 2, 2, 2, 11, 11, 17, 17], [0] * 8, [0] * 8],
    [[10] * 8, [2] * 8, [0, 0, 13, 13, 0, 0, 0, 0], [1] * 8],
]


IMG_NORM = dict(mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375], to_rgb=True)


def train_pipeline(scale=(64, 32), crop=(32, 32), cat_max_ratio=0.75, flip_prob=0.5):
    """docs/REFERENCE.md §1.3's training pipeline at a tiny scale."""
    return [
        dict(type='LoadImageFromFile'),
        dict(type='LoadAnnotations'),
        dict(type='Resize', img_scale=scale),
        dict(type='RandomCrop', crop_size=crop, cat_max_ratio=cat_max_ratio),
        dict(type='RandomFlip', prob=flip_prob),
        dict(type='Normalize', **IMG_NORM),
        dict(type='Pad', size=crop, pad_val=0, seg_pad_val=255),
        dict(type='DefaultFormatBundle'),
        dict(type='Collect', keys=['img', 'gt_semantic_seg']),
    ]


def eval_pipeline(scale=(128, 64), flip=False):
    """docs/REFERENCE.md §1.3's test pipeline at a tiny scale."""
    return [
        dict(type='LoadImageFromFile'),
        dict(type='MultiScaleFlipAug', img_scale=scale, flip=flip, transforms=[
            dict(type='Resize', keep_ratio=True),
            dict(type='RandomFlip'),
            dict(type='Normalize', **IMG_NORM),
            dict(type='ImageToTensor', keys=['img']),
            dict(type='Collect', keys=['img']),
        ]),
    ]



def denormalize_rgb(img_chw):
    """C×H×W normalised tensor → H×W×3 RGB uint8 array (rounded)."""
    mean = np.array(IMG_NORM['mean'])
    std = np.array(IMG_NORM['std'])
    return np.round(img_chw.numpy().transpose(1, 2, 0) * std + mean).astype(np.int64)


def rgb_of_label(label):
    """Expected RGB per pixel of a label (ignored → black)."""
    label = np.asarray(label)
    out = np.zeros(label.shape + (3,), dtype=np.int64)
    valid = label != 255
    out[valid] = PALETTE[label[valid]]
    return out


def iou_by_confusion_loop(preds, labels, num_classes, ignore_index=255):
    """Per-class IoU and accuracy and aAcc from a confusion matrix filled pixel by pixel."""
    confusion = np.zeros((num_classes, num_classes), dtype=np.int64)
    for pred, label in zip(preds, labels):
        for p, t in zip(np.asarray(pred).ravel(), np.asarray(label).ravel()):
            if t != ignore_index:
                confusion[t, p] += 1
    iou, acc = np.full(num_classes, np.nan), np.full(num_classes, np.nan)
    for c in range(num_classes):
        tp, gt, pr = confusion[c, c], confusion[c].sum(), confusion[:, c].sum()
        if gt + pr - tp > 0:
            iou[c] = tp / (gt + pr - tp)
        if gt > 0:
            acc[c] = tp / gt
    return iou, acc, np.trace(confusion) / confusion.sum()
