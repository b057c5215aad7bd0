"""HuggingFace facebook/dinov2-* weights converted to timm's layout give the same features."""
import pytest
import torch

from mmseg.models import build_backbone
from mmseg.models.backbones.dinov2_conversion import (convert_hf_dinov2_to_timm,
                                                      convert_to_timm_layout, is_hf_dinov2)

transformers = pytest.importorskip('transformers')  # test-only dependency (requirements-test.txt)

# Small DINOv2: 32 channels, 2 layers, 56 px = a 4x4 patch grid (no position interpolation).
HF_SMALL = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=128,
                image_size=56, patch_size=14, layerscale_value=0.5)


def hf_model(registers=False, seed=0):
    torch.manual_seed(seed)
    if registers:
        config = transformers.Dinov2WithRegistersConfig(num_register_tokens=4, **HF_SMALL)
        model = transformers.Dinov2WithRegistersModel(config)
    else:
        model = transformers.Dinov2Model(transformers.Dinov2Config(**HF_SMALL))
    # Random non-trivial tokens and layer scales (HF initialises some of them to constants).
    with torch.no_grad():
        for name, param in model.named_parameters():
            if 'token' in name or 'lambda' in name or 'position' in name:
                param.normal_(0, 0.5)
    return model.eval()


def backbone_for(path, registers=False):
    name = 'vit_small_patch14_reg4_dinov2' if registers else 'vit_small_patch14_dinov2'
    return build_backbone(dict(
        type='TIMMBackbone', model_name=name, embed_dim=32, depth=2, num_heads=2, img_size=56,
        out_indices=[-1], norm=True, checkpoint_path=str(path))).eval()


@pytest.mark.parametrize('registers', [False, True])
@pytest.mark.parametrize('fmt', ['pth', 'safetensors'])
def test_hf_dinov2_last_layer_features_after_conversion(tmp_path, registers, fmt):
    model = hf_model(registers)
    path = tmp_path / f'model.{fmt}'
    if fmt == 'pth':
        torch.save(model.state_dict(), path)
    else:
        from safetensors.torch import save_file
        save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(path))
    backbone = backbone_for(path, registers)
    x = torch.randn(2, 3, 56, 56)
    with torch.no_grad():
        tokens = model(pixel_values=x).last_hidden_state  # B x (1 [+ 4] + 16) x 32, normed
        ours = backbone(x)[0]
    patch_tokens = tokens[:, -16:]
    expected = patch_tokens.transpose(1, 2).reshape(2, 32, 4, 4)
    torch.testing.assert_close(ours, expected, atol=1e-4, rtol=0)


def test_conversion_key_mapping_by_hand():
    hf = hf_model().state_dict()
    timm_sd = convert_hf_dinov2_to_timm(hf)
    assert is_hf_dinov2(hf) and not is_hf_dinov2(timm_sd)
    q = hf['encoder.layer.1.attention.q_proj.weight']
    k = hf['encoder.layer.1.attention.k_proj.weight']
    v = hf['encoder.layer.1.attention.v_proj.weight']
    assert torch.equal(timm_sd['blocks.1.attn.qkv.weight'][:32], q)
    assert torch.equal(timm_sd['blocks.1.attn.qkv.weight'][32:64], k)
    assert torch.equal(timm_sd['blocks.1.attn.qkv.weight'][64:], v)
    assert torch.equal(timm_sd['blocks.0.ls2.gamma'], hf['encoder.layer.0.layer_scale2.lambda1'])
    assert torch.equal(timm_sd['norm.bias'], hf['layernorm.bias'])
    # classification checkpoints put 'dinov2.' in front; the classifier stays as it is.
    prefixed = {f'dinov2.{k}': v for k, v in hf.items()}
    prefixed['classifier.weight'] = torch.zeros(3, 64)
    converted = convert_to_timm_layout(prefixed)
    assert set(converted) == set(timm_sd) | {'classifier.weight'}


def test_incomplete_attention_raises():
    hf = hf_model().state_dict()
    del hf['encoder.layer.0.attention.k_proj.bias']
    with pytest.raises(ValueError, match=r"blocks.0.attn.qkv.bias: has only \['query', 'value'\], "
                                         r'expected query, key, value'):
        convert_hf_dinov2_to_timm(hf)


def test_released_file_names_and_transformers5_names_convert_alike():
    """The released facebook/dinov2 files name q/k/v ``attention.attention.query`` and the output
    ``attention.output.dense``; transformers >= 5 renames them ``attention.q_proj``/``o_proj``."""
    current = hf_model().state_dict()
    released = {}
    for key, value in current.items():
        for new, old in (('attention.q_proj', 'attention.attention.query'),
                         ('attention.k_proj', 'attention.attention.key'),
                         ('attention.v_proj', 'attention.attention.value'),
                         ('attention.o_proj', 'attention.output.dense')):
            key = key.replace(new, old)
        released[key] = value
    a, b = convert_hf_dinov2_to_timm(current), convert_hf_dinov2_to_timm(released)
    assert set(a) == set(b)
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_hf_swiglu_dinov2_giant_layout():
    """ViT-g's SwiGLU feed-forward: HF ``mlp.weights_in/out`` -> timm's packed ``fc1/fc2``.

    HF's SwiGLU hidden size for 32 channels: int(4 * 32 * 2 / 3) = 85, rounded up to 88;
    timm's packed fc1 then has 2 x 88 = 176 outputs (mlp_ratio 5.5).
    """
    torch.manual_seed(0)
    model = transformers.Dinov2Model(transformers.Dinov2Config(use_swiglu_ffn=True, **HF_SMALL))
    model.eval()
    sd = convert_hf_dinov2_to_timm(model.state_dict())
    assert sd['blocks.0.mlp.fc1.weight'].shape == (176, 32)
    backbone = build_backbone(dict(
        type='TIMMBackbone', model_name='vit_giant_patch14_dinov2', embed_dim=32, depth=2,
        num_heads=2, img_size=56, mlp_ratio=5.5, out_indices=[-1], norm=True)).eval()
    backbone.timm_model.load_state_dict({k: v for k, v in sd.items() if k != 'mask_token'})
    x = torch.randn(1, 3, 56, 56)
    with torch.no_grad():
        expected = model(pixel_values=x).last_hidden_state[:, 1:].transpose(1, 2)
        torch.testing.assert_close(backbone(x)[0].flatten(2), expected, atol=1e-4, rtol=0)
