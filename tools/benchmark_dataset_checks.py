"""Time the file checks of a dataset build (mmseg/datasets/integrity.py) on generated full-size
Cityscapes-like PNGs.

    python -m tools.benchmark_dataset_checks [--num 500] [--width 2048] [--height 1024]
        [--dir DIR] [--keep]

Writes ``num`` image/label pairs in the Cityscapes layout (smooth RGB images with noise, about
the size of real leftImg8bit PNGs; labels of 19 classes in blocks) into DIR (a temporary folder by
default), then builds CityscapesDataset on them as a val set (test_mode: images verified, labels
decoded) and as a training set (headers only), and prints the seconds of each. The files were
just written, so they are read from the page cache: a first read from a network disk is slower.
"""
import argparse
import os
import os.path as osp
import shutil
import sys
import tempfile
import time

if __package__ in (None, ''):
    sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

import cv2  # noqa: E402
import numpy as np  # noqa: E402

__all__ = ['write_pairs', 'time_builds', 'main']


def write_pairs(root, num, width, height, seed=0):
    """``num`` pairs under root/leftImg8bit/val/city and root/gtFine/val/city."""
    rng = np.random.RandomState(seed)
    img_dir = osp.join(root, 'leftImg8bit', 'val', 'city')
    ann_dir = osp.join(root, 'gtFine', 'val', 'city')
    os.makedirs(img_dir, exist_ok=True)
    os.makedirs(ann_dir, exist_ok=True)
    yy, xx = np.mgrid[0:height, 0:width]
    base = np.stack([xx * 255 // width, yy * 255 // height, (xx + yy) * 127 // (width + height)],
                    axis=-1).astype(np.int16)
    for i in range(num):
        noise = rng.randint(-12, 13, size=(height, width, 3), dtype=np.int16)
        img = np.clip(base + noise + i % 50, 0, 255).astype(np.uint8)
        blocks = rng.randint(0, 19, size=(height // 64, width // 64)).astype(np.uint8)
        label = np.kron(blocks, np.ones((64, 64), np.uint8))
        label[:height // 16] = 255
        stem = f'city_{i:06d}_000019'
        cv2.imwrite(osp.join(img_dir, f'{stem}_leftImg8bit.png'), img)
        cv2.imwrite(osp.join(ann_dir, f'{stem}_gtFine_labelTrainIds.png'), label)


def time_builds(root):
    """{check: seconds} of building CityscapesDataset on ``root`` as a val and a training set."""
    from mmseg.datasets import CityscapesDataset
    times = {}
    for name, test_mode in (('val (verify images, decode labels)', True),
                            ('train (headers only)', False)):
        start = time.perf_counter()
        CityscapesDataset(data_root=root, img_dir='leftImg8bit/val', ann_dir='gtFine/val',
                          pipeline=[], test_mode=test_mode)
        times[name] = time.perf_counter() - start
    return times


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--num', type=int, default=500)
    parser.add_argument('--width', type=int, default=2048)
    parser.add_argument('--height', type=int, default=1024)
    parser.add_argument('--dir', help='where to write the files (default: a temporary folder)')
    parser.add_argument('--keep', action='store_true', help='keep the written files')
    args = parser.parse_args(argv)
    root = args.dir or tempfile.mkdtemp(prefix='dataset_checks_')
    try:
        start = time.perf_counter()
        write_pairs(root, args.num, args.width, args.height)
        size = sum(osp.getsize(osp.join(d, f)) for d, _, fs in os.walk(root) for f in fs)
        print(f'wrote {args.num} pairs of {args.width}x{args.height} ({size / 2**20:.0f} MiB) '
              f'in {time.perf_counter() - start:.1f} s; {os.cpu_count()} CPU(s)')
        for name, seconds in time_builds(root).items():
            print(f'{name}: {seconds:.2f} s ({1000 * seconds / args.num:.1f} ms per pair)')
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == '__main__':
    main()
