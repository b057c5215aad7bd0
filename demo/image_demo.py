"""Predict images with a trained segmentor and draw the prediction over them, with a legend.

    python -m demo.image_demo IMAGE CONFIG CHECKPOINT [--out-file F] [--opacity 0.5] [--device cpu]

IMAGE is one image file or a folder of images (searched recursively; a progress bar is shown).
Each output is the input blended with the colour-coded prediction (``(1 - opacity) * image +
opacity * colour``, the dataset's palette) and, to its right, a legend of the classes that occur
in the prediction, in train-ID order. For a folder, ``--out-file`` is the output folder.
"""
import argparse
import os
import os.path as osp
import sys

import mmseg  # noqa: F401  (imported first: it silences mmcv 1.7's rename notice)
import cv2  # noqa: E402
import mmcv  # noqa: E402
import numpy as np  # noqa: E402

from mmseg.utils.errors import UserInputError, run_cli  # noqa: E402

IMAGE_SUFFIXES = ('.png', '.jpg', '.jpeg', '.bmp', '.tif', '.tiff', '.webp')
# Legend layout in pixels: one row per class, a colour swatch and the class name.
LEGEND_WIDTH = 200
LEGEND_ROW = 20
LEGEND_MARGIN = 8
SWATCH = (24, 14)  # width, height


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Draw a segmentor\'s predictions over images.')
    parser.add_argument('image', help='an image file or a folder of images')
    parser.add_argument('config', help='the config file of the checkpoint')
    parser.add_argument('checkpoint', help='a checkpoint file (segmentor or UDA run)')
    parser.add_argument('--out-file', default=None,
                        help='output image (one image) or folder (a folder of images); default: '
                        '<image>_pred.png next to the image, or <folder>_pred/')
    parser.add_argument('--opacity', type=float, default=0.5,
                        help='weight of the prediction colours in (0, 1] (default 0.5)')
    parser.add_argument('--device', default='cpu', help="torch device, e.g. 'cpu' or 'cuda:0'")
    args = parser.parse_args(argv)
    if not 0 < args.opacity <= 1:
        parser.error(f'--opacity must be in (0, 1], got {args.opacity}')
    for name in ('image', 'config', 'checkpoint'):
        path = getattr(args, name)
        if not osp.exists(path):
            parser.error(f'{name} {path} not found')
    return args


def list_images(path):
    """Image files under ``path`` (a file or a folder), sorted. Raises ValueError if none."""
    if osp.isfile(path):
        return [path]
    found = sorted(
        osp.join(root, name) for root, _, names in os.walk(path) for name in names
        if name.lower().endswith(IMAGE_SUFFIXES))
    if not found:
        raise UserInputError(f'no images ({", ".join(IMAGE_SUFFIXES)}) found under {path}')
    return found


def output_paths(image_arg, images, out_file):
    """Where each image's picture goes: ``out_file`` for one image, ``out_file/<relpath>.png`` for
    a folder. Returns (paths, the file or folder to report)."""
    if osp.isfile(image_arg):
        out = out_file or osp.splitext(image_arg)[0] + '_pred.png'
        return [out], out
    out_dir = out_file or image_arg.rstrip('/\\') + '_pred'
    paths = [osp.join(out_dir, osp.splitext(osp.relpath(p, image_arg))[0] + '.png') for p in images]
    return paths, out_dir


def draw_legend(height, labels, classes, palette):
    """A white H'×LEGEND_WIDTH×3 BGR panel, one row (swatch + name) per label; H' >= height."""
    rows_height = 2 * LEGEND_MARGIN + LEGEND_ROW * len(labels)
    panel = np.full((max(height, rows_height), LEGEND_WIDTH, 3), 255, dtype=np.uint8)
    for row, label in enumerate(labels):
        top = LEGEND_MARGIN + row * LEGEND_ROW
        color = tuple(int(c) for c in palette[label][::-1])  # RGB palette, BGR image
        cv2.rectangle(panel, (LEGEND_MARGIN, top),
                      (LEGEND_MARGIN + SWATCH[0] - 1, top + SWATCH[1] - 1), color, thickness=-1)
        name = classes[label] if classes is not None and label < len(classes) else str(label)
        cv2.putText(panel, name, (2 * LEGEND_MARGIN + SWATCH[0], top + SWATCH[1] - 2),
                    cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 1, cv2.LINE_AA)
    return panel


def legend_swatch_centers(labels):
    """(row, col) of each label's swatch centre in the legend panel, for checks and tools."""
    return [(LEGEND_MARGIN + i * LEGEND_ROW + SWATCH[1] // 2, LEGEND_MARGIN + SWATCH[0] // 2)
            for i in range(len(labels))]


def render(model, img, seg, opacity):
    """Blend ``seg`` (H×W train IDs) over ``img`` (H×W×3 BGR) and add the legend on the right.

    Returns a max(H, legend)×(W + LEGEND_WIDTH)×3 BGR uint8 picture.
    """
    blended = model.show_result(img, [seg], palette=model.PALETTE, show=False, opacity=opacity)
    palette = model._resolve_palette(model.PALETTE, seg)
    labels = [int(v) for v in np.unique(seg) if 0 <= v < len(palette)]
    legend = draw_legend(img.shape[0], labels, model.CLASSES, palette)
    canvas = np.full((legend.shape[0], img.shape[1] + LEGEND_WIDTH, 3), 255, dtype=np.uint8)
    canvas[:img.shape[0], :img.shape[1]] = blended
    canvas[:, img.shape[1]:] = legend
    return canvas


def load_model(config, checkpoint, device):
    """init_segmentor, with CLASSES/PALETTE taken from the config's dataset when the checkpoint
    has none (a checkpoint saved without meta)."""
    from mmseg.apis import init_segmentor
    from mmseg.datasets import DATASETS
    from mmseg.datasets.eval_sets import first_dataset_config
    model = init_segmentor(config, checkpoint, device=device)
    if model.CLASSES is None or model.PALETTE is None:
        dataset_cls = DATASETS.get(first_dataset_config(model.cfg.data.test).get('type'))
        if dataset_cls is not None:
            model.CLASSES = model.CLASSES or dataset_cls.CLASSES
            model.PALETTE = model.PALETTE or dataset_cls.PALETTE
    return model


def main(argv=None):
    args = parse_args(argv)
    from tqdm import tqdm

    from mmseg.apis import inference_segmentor
    images = list_images(args.image)
    outputs, where = output_paths(args.image, images, args.out_file)
    model = load_model(args.config, args.checkpoint, args.device)
    for image, out in tqdm(list(zip(images, outputs)), desc='images', unit='image',
                           disable=len(images) == 1):
        img = mmcv.imread(image)
        if img is None:
            raise UserInputError(f'{image} is not a readable image')
        seg = inference_segmentor(model, img)[0]
        mmcv.imwrite(render(model, img, seg, args.opacity), out)
    print(f'{len(outputs)} picture(s) written to {where}', flush=True)
    return outputs


if __name__ == '__main__':
    sys.exit(0 if run_cli(main, 'predict') else 1)
