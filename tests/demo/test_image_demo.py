"""demo/image_demo.py: prediction overlay with the dataset palette and a legend, on the real frame."""
import shutil

import mmcv
import numpy as np
import pytest
import torch

from demo import image_demo
from mmseg.core.evaluation.class_names import CITYSCAPES_CLASSES, CITYSCAPES_PALETTE

TINY_CONFIG = """
norm = dict(mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375], to_rgb=True)
model = dict(
    type='EncoderDecoder',
    backbone=dict(type='MixVisionTransformer', embed_dims=[8, 16, 32, 64], num_heads=[1, 1, 2, 4],
                  depths=[1, 1, 1, 1], sr_ratios=[8, 4, 2, 1]),
    decode_head=dict(
        type='SegFormerHead', in_channels=[8, 16, 32, 64], in_index=[0, 1, 2, 3], channels=16,
        num_classes=19, align_corners=False, decoder_params=dict(embed_dim=16),
        loss_decode=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0)),
    train_cfg=dict(), test_cfg=dict(mode='whole'))
data = dict(test=dict(type='CityscapesDataset', data_root='unused', img_dir='i', ann_dir='a',
    pipeline=[dict(type='LoadImageFromFile'),
              dict(type='MultiScaleFlipAug', img_scale=(256, 128), flip=False, transforms=[
                  dict(type='Resize', keep_ratio=True), dict(type='Normalize', **norm),
                  dict(type='ImageToTensor', keys=['img']), dict(type='Collect', keys=['img'])])]))
"""


@pytest.fixture(scope='module')
def tiny_run(tmp_path_factory):
    """A config file and a checkpoint without meta (CLASSES/PALETTE then come from the dataset)."""
    from mmseg.models import build_segmentor
    folder = tmp_path_factory.mktemp('tiny_run')
    (folder / 'tiny.py').write_text(TINY_CONFIG)
    cfg = mmcv.Config.fromfile(str(folder / 'tiny.py'))
    torch.manual_seed(0)
    model = build_segmentor(cfg.model)
    # Large classifier weights spread the random network's argmax over several classes.
    with torch.no_grad():
        model.decode_head.linear_pred.weight.mul_(50)
    torch.save(dict(state_dict=model.state_dict()), folder / 'tiny.pth')
    return folder / 'tiny.py', folder / 'tiny.pth'


def test_overlay_and_legend_of_the_real_frame(tiny_run, shared_data, tmp_path):
    from mmseg.apis import inference_segmentor, init_segmentor
    config, checkpoint = tiny_run
    frame = shared_data / 'cityscapes_demo_1024x512.png'
    out = tmp_path / 'pred.png'
    written = image_demo.main([str(frame), str(config), str(checkpoint), '--out-file', str(out),
                               '--opacity', '0.3'])
    assert written == [str(out)]
    picture = mmcv.imread(str(out))
    img = mmcv.imread(str(frame))
    assert picture.shape == (512, 1024 + image_demo.LEGEND_WIDTH, 3)

    # Independent route: the API's prediction, blended by hand with Cityscapes' RGB palette.
    model = init_segmentor(str(config), str(checkpoint), device='cpu')
    seg = inference_segmentor(model, str(frame))[0]
    palette_bgr = np.array(CITYSCAPES_PALETTE, dtype=np.float64)[:, ::-1]
    expected = (img * 0.7 + palette_bgr[seg] * 0.3).astype(np.uint8)
    assert np.array_equal(picture[:, :1024], expected)

    labels = sorted(int(v) for v in np.unique(seg))
    assert len(labels) >= 3  # the legend below is checked on several rows
    legend = picture[:, 1024:]
    for label, (row, col) in zip(labels, image_demo.legend_swatch_centers(labels)):
        assert tuple(legend[row, col]) == tuple(CITYSCAPES_PALETTE[label][::-1]), label
        # The class name is written in black to the right of its swatch.
        name_area = legend[row - 6:row + 6, 40:]
        assert (name_area.max(axis=-1) < 100).any(), CITYSCAPES_CLASSES[label]
    # Below the last row the legend is blank: no colour of an absent class is drawn.
    below = image_demo.LEGEND_MARGIN + len(labels) * image_demo.LEGEND_ROW
    assert (legend[below:] == 255).all()


def test_folder_of_images_and_errors(tiny_run, shared_data, tmp_path, capsys):
    config, checkpoint = tiny_run
    images = tmp_path / 'images'
    (images / 'sub').mkdir(parents=True)
    frame = mmcv.imread(str(shared_data / 'cityscapes_demo_1024x512.png'))
    mmcv.imwrite(frame[:128, :256], str(images / 'a.png'))
    mmcv.imwrite(frame[128:192, 256:384], str(images / 'sub' / 'b.jpg'))
    (images / 'notes.txt').write_text('not an image')
    written = image_demo.main([str(images), str(config), str(checkpoint)])
    out_dir = tmp_path / 'images_pred'
    assert written == [str(out_dir / 'a.png'), str(out_dir / 'sub' / 'b.png')]
    assert mmcv.imread(written[0]).shape[1] == 256 + image_demo.LEGEND_WIDTH
    small = mmcv.imread(written[1])
    assert small.shape[0] >= 64 and small.shape[1] == 128 + image_demo.LEGEND_WIDTH
    assert f'2 picture(s) written to {out_dir}' in capsys.readouterr().out

    with pytest.raises(SystemExit):
        image_demo.main([str(images / 'missing.png'), str(config), str(checkpoint)])
    assert 'image ' + str(images / 'missing.png') + ' not found' in capsys.readouterr().err
    with pytest.raises(SystemExit):
        image_demo.main([str(images / 'a.png'), str(config), str(checkpoint), '--opacity', '0'])
    assert '--opacity must be in (0, 1]' in capsys.readouterr().err
    empty = tmp_path / 'empty'
    empty.mkdir()
    with pytest.raises(ValueError, match=f'no images .* found under {empty}'):
        image_demo.main([str(empty), str(config), str(checkpoint)])
    shutil.rmtree(out_dir)
