"""TIMMBackbone: timm ViTs (DINOv2, EVA02) as encoders, their weights in timm/HF layouts."""
import copy
import math

import pytest
import timm
import torch
import torch.nn.functional as F

from mmseg.models import build_backbone

# Tiny versions of the real architectures (same block types, 32 channels, 3 blocks).
TINY = dict(embed_dim=32, depth=3, num_heads=2, img_size=56)


def tiny_backbone(model_name='vit_small_patch14_dinov2', **kwargs):
    torch.manual_seed(0)
    return build_backbone(dict(type='TIMMBackbone', model_name=model_name,
                               **dict(TINY, **kwargs))).eval()


def timm_reference(backbone, **kwargs):
    """The same weights in a plain timm model that pads the input itself."""
    model = timm.create_model(backbone.model_name, num_classes=0, dynamic_img_size=True,
                              dynamic_img_pad=True, **dict(TINY, **kwargs))
    model.load_state_dict(backbone.timm_model.state_dict())
    return model.eval()


@pytest.mark.parametrize('model_name', ['vit_small_patch14_dinov2',
                                        'vit_small_patch14_reg4_dinov2',
                                        'eva02_base_patch14_224'])
@pytest.mark.parametrize('size', [(56, 84), (61, 99)])
@pytest.mark.parametrize('norm', [False, True])
def test_outputs_equal_timm_forward_intermediates(model_name, size, norm):
    kwargs = dict(img_size=224) if model_name.startswith('eva') else {}
    backbone = tiny_backbone(model_name, out_indices=[0, -1], norm=norm, **kwargs)
    reference = timm_reference(backbone, **kwargs)
    x = torch.randn(2, 3, *size)
    with torch.no_grad():
        out = backbone(x)
        expected = reference.forward_intermediates(x, indices=[0, 2], norm=norm,
                                                   output_fmt='NCHW', intermediates_only=True)
    grid = (math.ceil(size[0] / 14), math.ceil(size[1] / 14))
    assert len(out) == 2 and out.image_size == size and out.patch_size == 14
    for got, want in zip(out, expected):
        assert got.shape == (2, 32, *grid)
        torch.testing.assert_close(got, want, atol=1e-5, rtol=0)


def test_inputs_not_multiple_of_patch_are_zero_padded_bottom_right():
    backbone = tiny_backbone(out_indices=[-1])
    x = torch.randn(1, 3, 61, 99)
    padded = F.pad(x, (0, 112 - 99, 0, 70 - 61))  # 70 = 5 x 14, 112 = 8 x 14
    with torch.no_grad():
        torch.testing.assert_close(backbone(x)[0], backbone(padded)[0], atol=1e-6, rtol=0)


def test_bad_arguments_raise_clear_errors():
    with pytest.raises(ValueError, match='unknown timm model_name'):
        build_backbone(dict(type='TIMMBackbone', model_name='vit_nonexistent'))
    with pytest.raises(ValueError, match='out_indices entry 5 outside the 3 blocks'):
        tiny_backbone(out_indices=[5])
    with pytest.raises(ValueError, match='increasing block indices without repeats'):
        tiny_backbone(out_indices=[2, 0])
    with pytest.raises(ValueError, match='frozen_stages'):
        tiny_backbone(frozen_stages=4)


def test_frozen_stages_stop_gradients_of_stem_and_first_blocks():
    backbone = tiny_backbone(out_indices=[-1], frozen_stages=2).train()
    backbone(torch.randn(1, 3, 28, 28))[0].sum().backward()
    for name, param in backbone.timm_model.named_parameters():
        frozen = name.startswith(('patch_embed', 'cls_token', 'pos_embed')) or \
            name.startswith(('blocks.0.', 'blocks.1.'))
        assert param.requires_grad is not frozen, name
        if frozen:
            assert param.grad is None, name
        elif name.startswith('blocks.2.'):
            assert param.grad is not None, name
    assert not backbone.timm_model.blocks[1].training
    assert backbone.timm_model.blocks[2].training


def test_with_cp_gives_same_outputs_and_gradients():
    plain = tiny_backbone(out_indices=[1, 2]).train()
    checkpointed = copy.deepcopy(plain)
    checkpointed.timm_model.set_grad_checkpointing(True)
    x = torch.randn(1, 3, 42, 42)
    for model in (plain, checkpointed):
        sum(o.square().sum() for o in model(x)).backward()
    for (name, a), b in zip(plain.named_parameters(), checkpointed.parameters()):
        torch.testing.assert_close(a.grad, b.grad, atol=1e-5, rtol=1e-5, msg=name)
    assert build_backbone(dict(type='TIMMBackbone', model_name='vit_small_patch14_dinov2',
                               with_cp=True, **TINY)).timm_model.grad_checkpointing


def test_checkpoint_path_loads_and_survives_init_weights(tmp_path):
    source = tiny_backbone(out_indices=[-1])
    path = tmp_path / 'vit.pth'
    torch.save(source.timm_model.state_dict(), path)
    loaded = tiny_backbone(out_indices=[-1], checkpoint_path=str(path))
    loaded.init_weights()  # mmcv would call timm's own init_weights without the override
    x = torch.randn(1, 3, 28, 42)
    with torch.no_grad():
        torch.testing.assert_close(loaded(x)[0], source(x)[0])
    torch.manual_seed(1)
    fresh = build_backbone(dict(type='TIMMBackbone', model_name='vit_small_patch14_dinov2',
                                **TINY))
    fresh.init_weights()  # without a checkpoint: timm's random weights stay as they are
    assert not torch.equal(fresh.timm_model.blocks[0].attn.qkv.weight,
                           source.timm_model.blocks[0].attn.qkv.weight)


def test_checkpoint_that_does_not_fit_lists_the_keys(tmp_path):
    state_dict = tiny_backbone().timm_model.state_dict()
    state_dict['blocks.9.extra.weight'] = torch.zeros(1)
    del state_dict['norm.weight']
    state_dict['head.weight'] = torch.zeros(10, 32)  # classifier: dropped, not an error
    path = tmp_path / 'bad.pth'
    torch.save(state_dict, path)
    with pytest.raises(ValueError, match=r'bad.pth does not fit.*missing keys: norm.weight.*'
                                         r'unexpected keys: blocks.9.extra.weight'):
        tiny_backbone(checkpoint_path=str(path))
    with pytest.raises(FileNotFoundError, match='nowhere.pth not found'):
        tiny_backbone(checkpoint_path=str(tmp_path / 'nowhere.pth'))
