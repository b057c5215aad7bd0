"""Decode heads: the original key layouts and parameter counts, forward maths, losses."""
import math

import pytest
import torch
import torch.nn.functional as F

from mmseg.models import build_head

NORM = dict(type='BN', requires_grad=True)
MIT_B5_CHANNELS = [64, 128, 320, 512]
MLP = dict(type='mlp', act_cfg=None, norm_cfg=None)
SEPASPP = dict(type='aspp', sep=True, dilations=(1, 6, 12, 18), pool=False,
               act_cfg=dict(type='ReLU'), norm_cfg=NORM)
CONV1 = dict(type='conv', kernel_size=1, act_cfg=dict(type='ReLU'), norm_cfg=NORM)


def daformer_head(fusion_cfg, in_channels=MIT_B5_CHANNELS, channels=256, num_classes=19,
                  dropout_ratio=0.1):
    return build_head(dict(
        type='DAFormerHead', in_channels=in_channels, in_index=[0, 1, 2, 3], channels=channels,
        dropout_ratio=dropout_ratio, num_classes=num_classes, norm_cfg=NORM,
        align_corners=False,
        decoder_params=dict(embed_dims=channels, embed_cfg=MLP, embed_neck_cfg=MLP,
                            fusion_cfg=fusion_cfg),
        loss_decode=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0)))


def dlv2_head(dilations=(6, 12), in_channels=2048, num_classes=19):
    return build_head(dict(type='DLV2Head', in_channels=in_channels, in_index=-1,
                           dilations=dilations, num_classes=num_classes, align_corners=False))


def _num_params(module):
    return sum(p.numel() for p in module.parameters())


def _shapes(module, prefix):
    return {prefix + k: tuple(v.shape) for k, v in module.state_dict().items()}


def _features(channels, size=32, batch=2, seed=0):
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(batch, c, size // s, size // s, generator=g)
            for c, s in zip(channels, (4, 8, 16, 32))]


# ---------------------------------------------------------------- layouts and counts


def test_daformer_sepaspp_head_equals_original_keys(original_hrda_state_dict_shapes):
    expected = {k: v for k, v in original_hrda_state_dict_shapes.items()
                if k.startswith('decode_head.head.')}
    head = daformer_head(SEPASPP)
    assert _shapes(head, 'decode_head.head.') == expected
    assert _num_params(head) == 3_712_275


def test_daformer_conv_fusion_equals_original_scale_attention(original_hrda_state_dict_shapes):
    expected = {k: v for k, v in original_hrda_state_dict_shapes.items()
                if k.startswith('decode_head.scale_attention.')}
    head = daformer_head(CONV1, channels=256)
    assert _shapes(head, 'decode_head.scale_attention.') == expected
    assert _num_params(head) == 530_707


def test_segformer_b5_head_count_and_keys():
    head = build_head(dict(type='SegFormerHead', in_channels=MIT_B5_CHANNELS,
                           in_index=[0, 1, 2, 3], channels=128, dropout_ratio=0.1,
                           num_classes=19, norm_cfg=NORM, align_corners=False,
                           decoder_params=dict(embed_dim=768)))
    assert _num_params(head) == 3_167_398
    shapes = _shapes(head, '')
    assert shapes['linear_c.3.proj.weight'] == (768, 512)
    assert shapes['linear_fuse.conv.weight'] == (768, 3072, 1, 1)
    assert shapes['linear_pred.weight'] == (19, 768, 1, 1)
    out = head(_features(MIT_B5_CHANNELS, size=64))
    assert out.shape == (2, 19, 16, 16)


def test_dlv2_red_head_count_keys_and_init():
    head = dlv2_head()
    assert _num_params(head) == 700_454
    assert sorted(head.state_dict()) == [
        'aspp_modules.0.conv.bias', 'aspp_modules.0.conv.weight',
        'aspp_modules.1.conv.bias', 'aspp_modules.1.conv.weight']
    weight = head.aspp_modules[0].conv.weight
    assert weight.std().item() == pytest.approx(0.01, rel=0.02)
    assert torch.all(head.aspp_modules[1].conv.bias == 0)
    assert not hasattr(head, 'conv_seg') and head.dropout is None


# ---------------------------------------------------------------- forward maths


def test_dlv2_head_sums_dilated_convs():
    torch.manual_seed(0)
    head = dlv2_head(dilations=(1, 2), in_channels=3, num_classes=2).eval()
    x = torch.randn(1, 3, 5, 5)
    out = head([torch.zeros(1), x])  # in_index -1 reads the last map
    expected = torch.zeros(1, 2, 5, 5)
    padded = {d: F.pad(x, (d, d, d, d)) for d in (1, 2)}
    for branch, d in zip(head.aspp_modules, (1, 2)):
        w, b = branch.conv.weight, branch.conv.bias
        if d == 1:  # the dilation-1 branch is a 1×1 conv
            expected += torch.einsum('oc,bchw->bohw', w[:, :, 0, 0], x) + b.view(1, -1, 1, 1)
            continue
        for ky in range(3):
            for kx in range(3):
                window = padded[d][:, :, ky * d:ky * d + 5, kx * d:kx * d + 5]
                expected += torch.einsum('oc,bchw->bohw', w[:, :, ky, kx], window)
        expected += b.view(1, -1, 1, 1)
    torch.testing.assert_close(out, expected, rtol=1e-5, atol=1e-5)


def _bn_relu(x, bn):
    x = (x - bn.running_mean.view(1, -1, 1, 1)) / torch.sqrt(bn.running_var.view(1, -1, 1, 1)
                                                             + bn.eps)
    return torch.relu(x * bn.weight.view(1, -1, 1, 1) + bn.bias.view(1, -1, 1, 1))


def test_daformer_conv_head_forward_by_hand():
    torch.manual_seed(0)
    channels = [4, 6, 8, 10]
    head = daformer_head(CONV1, in_channels=channels, channels=8, num_classes=3).eval()
    head.fuse_layer.bn.running_mean.uniform_(-0.5, 0.5)
    head.fuse_layer.bn.running_var.uniform_(0.5, 2.0)
    feats = _features(channels, size=32, batch=1)
    out = head(feats)

    embedded = []
    for i, feat in enumerate(feats):
        proj = head.embed_layers[str(i)].proj
        emb = torch.einsum('oc,bchw->bohw', proj.weight, feat) + proj.bias.view(1, -1, 1, 1)
        embedded.append(F.interpolate(emb, size=(8, 8), mode='bilinear', align_corners=False))
    fused = torch.einsum('oc,bchw->bohw', head.fuse_layer.conv.weight[:, :, 0, 0],
                         torch.cat(embedded, 1))
    fused = _bn_relu(fused, head.fuse_layer.bn)
    expected = torch.einsum('oc,bchw->bohw', head.conv_seg.weight[:, :, 0, 0], fused) \
        + head.conv_seg.bias.view(1, -1, 1, 1)
    torch.testing.assert_close(out, expected, rtol=1e-4, atol=1e-5)


def test_daformer_sepaspp_head_output_stride_4_and_pool_branch():
    head = daformer_head(SEPASPP, in_channels=[4, 6, 8, 10], channels=8, num_classes=5).eval()
    assert head(_features([4, 6, 8, 10], size=64)).shape == (2, 5, 16, 16)
    pooled = daformer_head(dict(SEPASPP, pool=True), in_channels=[4, 6, 8, 10], channels=8)
    assert pooled.fuse_layer.bottleneck.conv.weight.shape == (8, 5 * 8, 3, 3)
    assert 'fuse_layer.image_pool.1.conv.weight' in pooled.state_dict()
    plain = daformer_head(dict(SEPASPP, sep=False), in_channels=[4, 6, 8, 10], channels=8)
    assert plain.fuse_layer.aspp_modules[2].conv.dilation == (12, 12)
    assert pooled.eval()(_features([4, 6, 8, 10], size=64)).shape == (2, 19, 16, 16)


def test_dlv2_head_reads_one_map():
    feats = _features([2, 3, 4, 5], size=32, batch=1)
    head = build_head(dict(type='DLV2Head', in_channels=4, in_index=2, num_classes=2,
                           dilations=(1, )))
    assert head._transform_inputs(feats) is feats[2]
    with pytest.raises(ValueError, match='input_transform must be None'):
        build_head(dict(type='DLV2Head', in_channels=[2, 4], in_index=[0, 2], num_classes=2,
                        input_transform='resize_concat'))
    with pytest.raises(ValueError, match='channels'):
        build_head(dict(type='DLV2Head', in_channels=4, channels=8, num_classes=2))


def test_resize_concat_and_multiple_select_on_the_base_class():
    from mmseg.models.decode_heads import BaseDecodeHead

    class Probe(BaseDecodeHead):

        def forward(self, inputs):
            return self.cls_seg(self._transform_inputs(inputs))

    feats = _features([2, 3, 4, 5], size=32, batch=1)
    concat = Probe(in_channels=[2, 4], channels=6, in_index=[0, 2],
                   input_transform='resize_concat')
    joined = concat._transform_inputs(feats)
    assert concat.in_channels == 6 and joined.shape == (1, 6, 8, 8)
    torch.testing.assert_close(joined[:, :2], feats[0])
    torch.testing.assert_close(
        joined[:, 2:], F.interpolate(feats[2], size=(8, 8), mode='bilinear',
                                     align_corners=False))
    select = Probe(in_channels=[3, 5], channels=4, in_index=[1, 3],
                   input_transform='multiple_select')
    picked = select._transform_inputs(feats)
    assert picked[0] is feats[1] and picked[1] is feats[3]
    with pytest.raises(ValueError, match='input_transform'):
        Probe(in_channels=3, channels=4, input_transform='concat')
    with pytest.raises(ValueError, match='in_channels'):
        Probe(in_channels=[3, 5], channels=4, in_index=[1], input_transform='multiple_select')


def test_daformer_head_config_errors():
    with pytest.raises(ValueError, match='fusion_cfg'):
        build_head(dict(type='DAFormerHead', in_channels=[4, 6], in_index=[0, 1], channels=8,
                        decoder_params=dict(embed_dims=8, embed_cfg=MLP, embed_neck_cfg=MLP)))
    with pytest.raises(ValueError, match="'conv' or 'aspp'"):
        daformer_head(dict(type='isa'), in_channels=[4, 6, 8, 10], channels=8)


# ---------------------------------------------------------------- losses


def test_losses_resize_logits_to_label_and_weight_every_pixel():
    torch.manual_seed(0)
    head = dlv2_head(dilations=(1, ), in_channels=3, num_classes=4).eval()
    logits = torch.randn(2, 4, 4, 4)
    label = torch.randint(0, 4, (2, 1, 8, 8))
    label[0, 0, :3] = 255
    seg_weight = torch.rand(2, 8, 8)
    out = head.losses(logits, label, seg_weight)

    big = F.interpolate(logits, size=(8, 8), mode='bilinear', align_corners=False)
    total, hits, valid = 0.0, 0, 0
    for b in range(2):
        for y in range(8):
            for x in range(8):
                target = int(label[b, 0, y, x])
                if target == 255:
                    continue
                scores = big[b, :, y, x]
                total += float(seg_weight[b, y, x]) * (
                    math.log(float(torch.exp(scores).sum())) - float(scores[target]))
                hits += int(scores.argmax()) == target
                valid += 1
    assert out['loss_seg'].item() == pytest.approx(total / (2 * 8 * 8), rel=1e-5)
    assert out['acc_seg'].item() == pytest.approx(100.0 * hits / valid, rel=1e-6)


def test_forward_train_returns_losses_with_gradients():
    torch.manual_seed(0)
    head = daformer_head(SEPASPP, in_channels=[4, 6, 8, 10], channels=8, num_classes=3)
    feats = _features([4, 6, 8, 10], size=32)
    label = torch.randint(0, 3, (2, 1, 32, 32))
    losses = head.forward_train(feats, [{}] * 2, label, train_cfg=None)
    assert set(losses) == {'loss_seg', 'acc_seg'}
    losses['loss_seg'].backward()
    assert head.conv_seg.weight.grad.abs().sum() > 0
    assert head.embed_layers['0'].proj.weight.grad.abs().sum() > 0
    test_out = head.eval().forward_test(feats, [{}] * 2, test_cfg=None)
    assert test_out.shape == (2, 3, 8, 8)
