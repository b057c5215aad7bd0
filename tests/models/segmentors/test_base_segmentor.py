"""BaseSegmentor: loss parsing, runner steps, result drawing; EncoderDecoder pretrained loading."""
import copy

import mmcv
import numpy as np
import pytest
import torch

from mmseg.models import build_segmentor
from mmseg.models.segmentors import BaseSegmentor


def test_parse_losses_sums_loss_keys_and_logs_detached_scalar_tensors():
    losses = {'decode.loss_seg': torch.tensor(1.5), 'decode.acc_seg': torch.tensor([50.0]),
              'aux.loss_seg': [torch.tensor([1.0, 3.0]), torch.tensor(0.5)],
              'features': [torch.ones(1, 2, 2, 2)]}
    loss, log_vars = BaseSegmentor._parse_losses(losses)
    # 1.5 + (mean(1, 3) + 0.5) = 4.0; acc and features are not summed.
    assert loss.item() == pytest.approx(4.0)
    assert {k: v.item() for k, v in log_vars.items()} == {
        'decode.loss_seg': 1.5, 'decode.acc_seg': 50.0, 'aux.loss_seg': 2.5, 'loss': 4.0}
    # no host sync: 0-d tensors, detached (a log buffer holding them keeps no graph alive)
    assert all(torch.is_tensor(v) and v.dim() == 0 and not v.requires_grad
               for v in log_vars.values())
    graph_loss, graph_vars = BaseSegmentor._parse_losses(
        {'loss_seg': torch.tensor(2.0, requires_grad=True) * 3})
    assert graph_loss.requires_grad and not graph_vars['loss_seg'].requires_grad
    with pytest.raises(TypeError, match="'bad.loss'"):
        BaseSegmentor._parse_losses({'bad.loss': 1.0})


def test_train_step_returns_loss_log_vars_and_num_samples(tiny_segmentor_cfg):
    torch.manual_seed(0)
    model = build_segmentor(copy.deepcopy(tiny_segmentor_cfg))
    batch = dict(img=torch.randn(3, 3, 16, 16), img_metas=[{}] * 3,
                 gt_semantic_seg=torch.randint(0, 3, (3, 1, 16, 16)))
    out = model.train_step(batch, optimizer=None)
    assert out['num_samples'] == 3
    assert out['loss'].requires_grad
    assert out['log_vars']['loss'].item() == pytest.approx(
        out['log_vars']['decode.loss_seg'].item())
    out['loss'].backward()
    assert model.decode_head.conv_seg.weight.grad is not None


def test_show_result_blends_the_palette_colour_over_the_image(tiny_segmentor_cfg, tmp_path):
    model = build_segmentor(copy.deepcopy(tiny_segmentor_cfg))
    img = np.full((2, 2, 3), 100, dtype=np.uint8)  # BGR
    seg = np.array([[0, 1], [2, 255]])
    palette = [(200, 0, 0), (0, 200, 0), (0, 0, 200)]  # RGB
    out = model.show_result(img, [seg], palette=palette, opacity=0.5)
    # 0.5·100 + 0.5·colour, colour reversed to BGR; the ignored pixel is blended with black.
    assert out[0, 0].tolist() == [50, 50, 150]
    assert out[0, 1].tolist() == [50, 150, 50]
    assert out[1, 0].tolist() == [150, 50, 50]
    assert out[1, 1].tolist() == [50, 50, 50]
    out_file = tmp_path / 'vis' / 'pred.png'
    assert model.show_result(img, [seg], palette=palette, out_file=str(out_file),
                             opacity=1.0) is None
    written = mmcv.imread(str(out_file))
    assert written[0, 0].tolist() == [0, 0, 200] and written[1, 1].tolist() == [0, 0, 0]
    with pytest.raises(ValueError, match='opacity'):
        model.show_result(img, [seg], palette=palette, opacity=0)


def _save_backbone(model, path, extra=None):
    state = {k: v.clone() + 1 for k, v in model.backbone.state_dict().items()}
    state.update(extra or {})
    torch.save(state, path)
    return state


def test_pretrained_weights_go_into_the_backbone_and_survive_init_weights(
        tiny_segmentor_cfg, tmp_path):
    reference = build_segmentor(copy.deepcopy(tiny_segmentor_cfg))
    path = tmp_path / 'imagenet.pth'
    state = _save_backbone(reference, path, extra={'head.weight': torch.zeros(10, 8)})
    model = build_segmentor(dict(copy.deepcopy(tiny_segmentor_cfg), pretrained=str(path)))
    for key, value in state.items():
        if not key.startswith('head.'):
            assert torch.equal(model.backbone.state_dict()[key], value), key
    model.init_weights()
    assert torch.equal(model.backbone.conv1.weight, state['conv1.weight'])
    # A segmentor checkpoint (backbone.* under state_dict) fits too.
    torch.save({'state_dict': {f'backbone.{k}': v for k, v in state.items()}},
               tmp_path / 'seg.pth')
    model = build_segmentor(dict(copy.deepcopy(tiny_segmentor_cfg),
                                 pretrained=str(tmp_path / 'seg.pth')))
    assert torch.equal(model.backbone.conv2.bias, state['conv2.bias'])


def test_pretrained_errors_name_the_file_and_the_problem(tiny_segmentor_cfg, tmp_path):
    with pytest.raises(FileNotFoundError, match='missing.pth.*Datasets and weights'):
        build_segmentor(dict(copy.deepcopy(tiny_segmentor_cfg),
                             pretrained=str(tmp_path / 'missing.pth')))
    with pytest.raises(FileNotFoundError, match='pretrained/resnet101_v1c.pth'):
        build_segmentor(dict(copy.deepcopy(tiny_segmentor_cfg),
                             pretrained='open-mmlab://resnet101_v1c'))
    torch.save({'conv1.weight': torch.zeros(4, 3, 3, 3)}, tmp_path / 'wrong.pth')
    with pytest.raises(ValueError, match='wrong.pth.*conv1.weight'):
        build_segmentor(dict(copy.deepcopy(tiny_segmentor_cfg),
                             pretrained=str(tmp_path / 'wrong.pth')))
    torch.save({'other.weight': torch.zeros(1)}, tmp_path / 'other.pth')
    with pytest.raises(ValueError, match='other.pth does not fit'):
        build_segmentor(dict(copy.deepcopy(tiny_segmentor_cfg),
                             pretrained=str(tmp_path / 'other.pth')))
