"""MiT and ResNetV1c backbones: layout of the original checkpoints, maths, weight loading."""
import math
import re

import pytest
import torch
import torch.nn.functional as F

from mmseg.models import build_backbone
from mmseg.models.backbones import (ResNet, ResNetV1c, mit_b0, mit_b1,
                                    mit_b2, mit_b3, mit_b4, mit_b5)
from mmseg.models.backbones.mix_transformer import EfficientAttention, MixFFN
from mmseg.models.backbones.resnet import resolve_pretrained_path

TINY_MIT = dict(type='MixVisionTransformer', embed_dims=[8, 16, 32, 64], num_heads=[1, 1, 2, 4],
                depths=[1, 1, 1, 1], sr_ratios=[8, 4, 2, 1])


def _num_params(module):
    return sum(p.numel() for p in module.parameters())


def _shapes(module, prefix=''):
    return {prefix + k: tuple(v.shape) for k, v in module.state_dict().items()}


def _tiny_mit(seed=0):
    torch.manual_seed(seed)
    return build_backbone(dict(TINY_MIT)).eval()


# ---------------------------------------------------------------- MiT: layout and counts


@pytest.mark.parametrize('variant, expected', [(mit_b0, 3_319_392), (mit_b1, 13_151_424),
                                               (mit_b2, 24_196_288), (mit_b3, 44_072_128),
                                               (mit_b4, 60_842_688), (mit_b5, 81_443_008)])
def test_mit_parameter_counts_equal_the_original(variant, expected):
    assert _num_params(variant()) == expected


def test_mit_b5_keys_and_shapes_equal_the_original_checkpoint(original_hrda_state_dict_shapes):
    expected = {k: v for k, v in original_hrda_state_dict_shapes.items()
                if k.startswith('backbone.')}
    model = build_backbone(dict(type='mit_b5', style='pytorch'))
    assert _shapes(model, 'backbone.') == expected


def test_mit_keys_follow_segformer_layout_and_sr_only_where_needed():
    keys = set(_tiny_mit().state_dict())
    for stage in range(1, 5):
        assert f'patch_embed{stage}.proj.weight' in keys
        assert f'norm{stage}.weight' in keys
        assert f'block{stage}.0.mlp.dwconv.dwconv.weight' in keys
        assert f'block{stage}.0.attn.kv.weight' in keys
        has_sr = f'block{stage}.0.attn.sr.weight' in keys
        assert has_sr == (stage < 4)
        assert (f'block{stage}.0.attn.norm.weight' in keys) == (stage < 4)


def test_mit_variants_fix_their_architecture():
    with pytest.raises(ValueError, match='depths'):
        mit_b0(depths=[1, 1, 1, 1])
    model = mit_b0(drop_path_rate=0.0)  # drop rates may change
    assert all(not hasattr(blk.drop_path, 'drop_prob') for blk in model.block4)


# ---------------------------------------------------------------- MiT: forward maths


def test_mit_outputs_four_maps_at_strides_4_to_32():
    model = _tiny_mit()
    for h, w in ((64, 128), (70, 90)):
        outs = model(torch.randn(2, 3, h, w))
        expected_h, expected_w = h, w
        for i, (out, channels) in enumerate(zip(outs, [8, 16, 32, 64])):
            k, s = (7, 4) if i == 0 else (3, 2)
            expected_h = (expected_h + 2 * (k // 2) - k) // s + 1
            expected_w = (expected_w + 2 * (k // 2) - k) // s + 1
            assert out.shape == (2, channels, expected_h, expected_w)


def test_efficient_attention_matches_explicit_softmax():
    torch.manual_seed(0)
    dim, heads, sr, h, w = 8, 2, 2, 4, 6
    attn = EfficientAttention(dim, heads, qkv_bias=True, sr_ratio=sr).eval()
    x = torch.randn(1, h * w, dim)
    out = attn(x, h, w)

    # By hand: keys/values from the sr-conv-shrunk, layer-normed map; first half of kv is k.
    q = x[0] @ attn.q.weight.t() + attn.q.bias
    shrunk = F.conv2d(x[0].t().reshape(1, dim, h, w), attn.sr.weight, attn.sr.bias, stride=sr)
    tokens = shrunk.flatten(2)[0].t()
    tokens = F.layer_norm(tokens, (dim, ), attn.norm.weight, attn.norm.bias, eps=1e-5)
    kv = tokens @ attn.kv.weight.t() + attn.kv.bias
    k, v = kv[:, :dim], kv[:, dim:]
    d = dim // heads
    head_outs = []
    for head in range(heads):
        sl = slice(head * d, (head + 1) * d)
        scores = q[:, sl] @ k[:, sl].t() / math.sqrt(d)
        weights = torch.exp(scores - scores.max(dim=1, keepdim=True).values)
        weights = weights / weights.sum(dim=1, keepdim=True)
        head_outs.append(weights @ v[:, sl])
    expected = torch.cat(head_outs, dim=1) @ attn.proj.weight.t() + attn.proj.bias
    torch.testing.assert_close(out[0], expected, rtol=1e-5, atol=1e-5)


def test_mix_ffn_matches_hand_computation():
    torch.manual_seed(1)
    dim, h, w = 4, 3, 5
    ffn = MixFFN(dim, 4 * dim).eval()
    x = torch.randn(2, h * w, dim)
    hidden = x @ ffn.fc1.weight.t() + ffn.fc1.bias
    expected = torch.empty_like(x)
    conv_w, conv_b = ffn.dwconv.dwconv.weight, ffn.dwconv.dwconv.bias
    for b in range(2):
        grid = hidden[b].t().reshape(4 * dim, h, w)
        padded = F.pad(grid, (1, 1, 1, 1))
        mixed = torch.zeros_like(grid)
        for c in range(4 * dim):  # depth-wise: channel c only sees channel c
            for dy in range(3):
                for dx in range(3):
                    mixed[c] += conv_w[c, 0, dy, dx] * padded[c, dy:dy + h, dx:dx + w]
            mixed[c] += conv_b[c]
        act = F.gelu(mixed.reshape(4 * dim, h * w).t())
        expected[b] = act @ ffn.fc2.weight.t() + ffn.fc2.bias
    torch.testing.assert_close(ffn(x, h, w), expected, rtol=1e-5, atol=1e-5)


def test_drop_path_grows_linearly_over_all_blocks():
    model = mit_b0()
    probs = [blk.drop_path.drop_prob if hasattr(blk.drop_path, 'drop_prob') else 0.0
             for stage in range(1, 5) for blk in getattr(model, f'block{stage}')]
    assert probs == pytest.approx([0.1 * i / 7 for i in range(8)])


def test_mit_init_follows_segformer():
    model = mit_b0()
    ln = model.block2[0].norm1
    assert torch.all(ln.weight == 1) and torch.all(ln.bias == 0) and ln.eps == 1e-6
    fc = model.block3[1].mlp.fc1
    assert torch.all(fc.bias == 0)
    assert fc.weight.std().item() == pytest.approx(0.02, rel=0.05)
    conv = model.patch_embed4.proj  # fan-out normal: std sqrt(2 / (3*3*256))
    assert conv.weight.std().item() == pytest.approx(math.sqrt(2 / (9 * 256)), rel=0.05)
    assert torch.all(conv.bias == 0)


def test_freeze_patch_emb():
    model = build_backbone(dict(TINY_MIT, freeze_patch_emb=True))
    assert not any(p.requires_grad for p in model.patch_embed1.parameters())
    assert all(p.requires_grad for p in model.patch_embed2.parameters())


# ---------------------------------------------------------------- MiT: pretrained weights


@pytest.mark.parametrize('wrapper', [None, 'state_dict', 'model'])
def test_mit_loads_imagenet_checkpoint_and_drops_classifier(tmp_path, wrapper):
    source = _tiny_mit(seed=1)
    weights = dict(source.state_dict())
    weights['head.weight'] = torch.randn(1000, 64)
    weights['head.bias'] = torch.randn(1000)
    checkpoint = weights if wrapper is None else {wrapper: weights, 'meta': {}}
    path = tmp_path / 'mit_tiny.pth'
    torch.save(checkpoint, path)

    model = build_backbone(dict(TINY_MIT, pretrained=str(path)))
    model.init_weights()
    for key, value in source.state_dict().items():
        torch.testing.assert_close(model.state_dict()[key], value, rtol=0, atol=0)
    x = torch.randn(1, 3, 64, 64)
    torch.testing.assert_close(model.eval()(x)[3], source(x)[3])


def test_mit_missing_pretrained_file_says_where_to_get_it(tmp_path):
    path = tmp_path / 'pretrained' / 'mit_b5.pth'
    with pytest.raises(FileNotFoundError) as err:
        _tiny_mit().load_pretrained(str(path))
    message = str(err.value)
    assert str(path) in message and 'pretrained/' in message
    assert 'Datasets and weights' in message


def test_mit_checkpoint_that_does_not_fit_lists_the_mismatches(tmp_path):
    weights = dict(_tiny_mit().state_dict())
    del weights['block2.0.attn.q.weight']
    weights['block9.0.extra'] = torch.zeros(1)
    weights['norm4.weight'] = torch.ones(3)
    path = tmp_path / 'bad.pth'
    torch.save(weights, path)
    with pytest.raises(ValueError) as err:
        _tiny_mit().load_pretrained(str(path))
    message = str(err.value)
    for expected in ('bad.pth', 'missing keys: block2.0.attn.q.weight',
                     'unexpected keys: block9.0.extra', 'norm4.weight: checkpoint (3,)'):
        assert expected in message


# ---------------------------------------------------------------- ResNetV1c


def _appendix_b_shapes(shared_data):
    """Sample keys and shapes of docs/REFERENCE.md §B (DeepLabV2-red + ResNet-101 V1c)."""
    spec = (shared_data.parent / 'SPEC.md').read_text()
    block = spec.split('## Appendix B', 1)[1].split('```')[1]
    shapes = {}
    for line in block.strip().splitlines():
        key, shape = line.split(' ', 1)
        shapes[key] = tuple(int(v) for v in re.findall(r'\d+', shape))
    return shapes


def _dlv2_resnet101():
    return build_backbone(dict(type='ResNetV1c', depth=101, strides=(1, 2, 1, 1),
                               dilations=(1, 1, 2, 4), contract_dilation=True,
                               norm_cfg=dict(type='BN', requires_grad=True)))


def test_resnet101_v1c_layout_and_counts_match_appendix_b(shared_data):
    from mmseg.models import build_head
    backbone = _dlv2_resnet101()
    head = build_head(dict(type='DLV2Head', in_channels=2048, in_index=-1, dilations=(6, 12),
                           num_classes=19, align_corners=False))
    shapes = {**_shapes(backbone, 'backbone.'), **_shapes(head, 'decode_head.')}
    for key, shape in _appendix_b_shapes(shared_data).items():
        assert shapes[key] == shape, key
    assert len(shapes) == 640
    assert _num_params(backbone) + _num_params(head) == 43_219_846
    assert sum(k.startswith('backbone.layer3.') and k.endswith('conv1.weight')
               for k in shapes) == 23


def test_resnet_v1c_dilations_and_output_stride():
    model = build_backbone(dict(type='ResNetV1c', depth=50, strides=(1, 2, 1, 1),
                                dilations=(1, 1, 2, 4), contract_dilation=True)).eval()
    # contract_dilation: the first block of a dilated stage uses half the dilation.
    assert model.layer3[0].conv2.dilation == (1, 1)
    assert model.layer3[1].conv2.dilation == (2, 2)
    assert model.layer4[0].conv2.dilation == (2, 2)
    assert model.layer4[2].conv2.dilation == (4, 4)
    assert model.layer2[0].conv2.stride == (2, 2)
    assert model.stem[0].stride == (2, 2) and model.stem[0].kernel_size == (3, 3)
    outs = model(torch.randn(1, 3, 64, 96))
    assert len(outs) == 1 and outs[0].shape == (1, 2048, 8, 12)


def test_plain_resnet_matches_torchvision_after_loading_its_weights(tmp_path):
    torchvision = pytest.importorskip('torchvision')
    torch.manual_seed(0)
    reference = torchvision.models.resnet50(weights=None).eval()
    for m in reference.modules():  # non-trivial BN statistics
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.1, 0.1)
            m.running_var.uniform_(0.5, 1.5)
            m.weight.data.uniform_(0.5, 1.5)
    # The first two stages only (a small file); fc is the classifier the loader drops.
    kept = ('conv1.', 'bn1.', 'layer1.', 'layer2.', 'fc.')
    weights = {k: v for k, v in reference.state_dict().items() if k.startswith(kept)}
    path = tmp_path / 'resnet.pth'
    torch.save({'state_dict': weights}, path)

    model = ResNet(depth=50, num_stages=2, strides=(1, 2), dilations=(1, 1),
                   out_indices=(0, 1), pretrained=str(path))
    model.init_weights()
    model.eval()
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        outs = model(x)
        y = reference.maxpool(reference.relu(reference.bn1(reference.conv1(x))))
        y1 = reference.layer1(y)
        y2 = reference.layer2(y1)
    torch.testing.assert_close(outs[0], y1)
    torch.testing.assert_close(outs[1], y2)


def test_resnet_pretrained_names_and_errors(tmp_path, monkeypatch):
    assert resolve_pretrained_path('open-mmlab://resnet101_v1c') == \
        'pretrained/resnet101_v1c.pth'
    monkeypatch.chdir(tmp_path)
    model = ResNetV1c(depth=50, num_stages=1, strides=(1, ), dilations=(1, ), out_indices=(0, ))
    with pytest.raises(FileNotFoundError, match='pretrained/resnet101_v1c.pth'):
        model.load_pretrained('open-mmlab://resnet101_v1c')
    weights = dict(model.state_dict())
    weights['stem.0.weight'] = torch.zeros(32, 3, 7, 7)
    torch.save(weights, tmp_path / 'wrong.pth')
    with pytest.raises(ValueError, match=r'stem\.0\.weight: checkpoint \(32, 3, 7, 7\)'):
        model.load_pretrained(str(tmp_path / 'wrong.pth'))
    with pytest.raises(ValueError, match='depth'):
        ResNetV1c(depth=42)


def test_resnet_zero_init_residual_and_norm_eval():
    model = ResNetV1c(depth=50, norm_eval=True)
    assert torch.all(model.layer1[0].bn3.weight == 0)
    assert torch.all(model.layer1[0].bn2.weight == 1)
    model.train()
    assert not model.layer2[0].bn1.training


def test_imagenet_resnet_without_batchnorm_counters_loads(tmp_path):
    """Older ImageNet checkpoints carry no num_batches_tracked buffers; they are not weights."""
    source = build_backbone(dict(type='ResNetV1c', depth=50))
    state = {k: v.clone() + 0.5 for k, v in source.state_dict().items()
             if not k.endswith('num_batches_tracked') and v.is_floating_point()}
    state['fc.weight'] = torch.zeros(1000, 2048)
    torch.save(state, tmp_path / 'resnet50_v1c.pth')
    model = build_backbone(dict(type='ResNetV1c', depth=50))
    model.load_pretrained(str(tmp_path / 'resnet50_v1c.pth'))
    assert torch.equal(model.stem[0].weight, state['stem.0.weight'])
    assert torch.equal(model.layer4[2].bn3.running_var, state['layer4.2.bn3.running_var'])
    # A real weight missing is still an error that names it.
    del state['layer1.0.conv1.weight']
    torch.save(state, tmp_path / 'broken.pth')
    with pytest.raises(ValueError, match='layer1.0.conv1.weight'):
        model.load_pretrained(str(tmp_path / 'broken.pth'))
