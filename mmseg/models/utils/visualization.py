"""Debug image grids of the UDA methods (docs/REFERENCE.md §3.3 step 8), drawn with matplotlib's Agg canvas."""
import os

import numpy as np
import torch
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from mmseg.core.evaluation.class_names import CITYSCAPES_PALETTE as CITYSCAPES_COLOURS

__all__ = ['CITYSCAPES_PALETTE', 'colorize_label', 'to_display_image', 'save_image_grid']

CITYSCAPES_PALETTE = np.array(CITYSCAPES_COLOURS, dtype=np.uint8)


def colorize_label(label, palette=CITYSCAPES_PALETTE):
    """H x W (or 1 x H x W) train IDs -> H x W x 3 uint8 RGB; ignored/unknown IDs are black."""
    label = np.asarray(label.detach().cpu() if torch.is_tensor(label) else label)
    label = label.reshape(label.shape[-2:]).astype(np.int64)
    rgb = np.zeros(label.shape + (3, ), dtype=np.uint8)
    known = (label >= 0) & (label < len(palette))
    rgb[known] = palette[label[known]]
    return rgb


def to_display_image(img, mean, std):
    """A normalised 3 x H x W image -> H x W x 3 float RGB in [0, 1]."""
    rgb = img.detach().float() * std.view(3, 1, 1) + mean.view(3, 1, 1)
    return (rgb / 255.0).clamp(0, 1).permute(1, 2, 0).cpu().numpy()


def save_image_grid(path, panels, columns=5):
    """Save panels (list of (title, array, kind)) as one figure; kind: 'rgb', 'label', 'gray'.

    'rgb': H x W x 3 floats in [0, 1] or uint8; 'label': H x W train IDs (Cityscapes palette);
    'gray': H x W values shown in [0, 1] (weights and masks).
    """
    rows = -(-len(panels) // columns)
    figure = Figure(figsize=(3 * columns, 3 * rows))
    FigureCanvasAgg(figure)
    for index, (title, array, kind) in enumerate(panels):
        axis = figure.add_subplot(rows, columns, index + 1)
        if torch.is_tensor(array):
            array = array.detach().float().cpu().numpy()
        if kind == 'label':
            axis.imshow(colorize_label(array))
        elif kind == 'gray':
            axis.imshow(np.asarray(array).reshape(np.shape(array)[-2:]), cmap='gray', vmin=0,
                        vmax=1)
        elif kind == 'rgb':
            axis.imshow(array)
        else:
            raise ValueError(f"panel kind must be 'rgb', 'label' or 'gray', got {kind!r}")
        axis.set_title(title)
        axis.axis('off')
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    figure.savefig(path)
