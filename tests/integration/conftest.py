"""Fixtures of the end-to-end UDA tests: a tiny 'ImageNet' MiT checkpoint in SegFormer's layout."""
import pytest
import torch

TINY_MIT = dict(type='MixVisionTransformer', embed_dims=[8, 16, 32, 64], num_heads=[1, 1, 2, 4],
                depths=[1, 1, 1, 1], sr_ratios=[8, 4, 2, 1])


@pytest.fixture(scope='session')
def tiny_mit_pretrained(tmp_path_factory):
    """A checkpoint of the tiny MiT as SegFormer ships its ImageNet weights: the bare backbone
    keys (``patch_embed1.proj.weight``, ``block1.0.attn.q.weight``, ...) plus the classifier
    ``head.*`` that loading must ignore. Returns (path, state dict)."""
    from mmseg.models import build_backbone
    torch.manual_seed(123)
    backbone = build_backbone(dict(TINY_MIT))
    state = {k: v.detach().clone() for k, v in backbone.state_dict().items()}
    # Make the weights recognisable: no freshly initialised network has exactly these values.
    for key, value in state.items():
        if value.is_floating_point():
            state[key] = value + 0.01 * torch.arange(value.numel()).reshape(value.shape) % 0.07
    state['head.weight'] = torch.randn(1000, 64)
    state['head.bias'] = torch.zeros(1000)
    path = tmp_path_factory.mktemp('pretrained') / 'mit_tiny.pth'
    torch.save(state, path)
    return path, state

