"""DepthwiseGradConv2d: nn.Conv2d's outputs and gradients with the faster CPU backward pass."""
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from mmseg.models.decode_heads.aspp_head import ASPPWrapper
from mmseg.models.utils.depthwise_conv import DepthwiseGradConv2d, depthwise_conv2d_same


def _pair(channels, kernel, dilation, bias, seed=0):
    """A DepthwiseGradConv2d and an nn.Conv2d with the same depth-wise weights."""
    torch.manual_seed(seed)
    padding = dilation * (kernel - 1) // 2
    ours = DepthwiseGradConv2d(channels, channels, kernel, padding=padding, dilation=dilation,
                               groups=channels, bias=bias)
    ref = nn.Conv2d(channels, channels, kernel, padding=padding, dilation=dilation,
                    groups=channels, bias=bias)
    ref.load_state_dict(ours.state_dict())
    return ours, ref


def _grads(conv, x, grad_out):
    x = x.clone().requires_grad_()
    out = conv(x)
    params = [p for p in (conv.weight, conv.bias) if p is not None]
    grads = torch.autograd.grad(out, [x] + params, grad_out)
    return out, grads


def _rel_err(a, b):
    return ((a - b).abs().max() / b.abs().max()).item()


@pytest.mark.parametrize('kernel,dilation,bias', [(3, 1, False), (3, 6, True), (3, 18, False),
                                                  (5, 2, True)])
def test_outputs_and_gradients_equal_nn_conv2d(kernel, dilation, bias):
    ours, ref = _pair(8, kernel, dilation, bias)
    x = torch.randn(2, 8, 40, 36, generator=torch.Generator().manual_seed(1))
    grad_out = torch.randn(2, 8, 40, 36, generator=torch.Generator().manual_seed(2))
    out, grads = _grads(ours, x, grad_out)
    out_ref, grads_ref = _grads(ref, x, grad_out)
    # The fast path ran: the output's backward is ours, not the convolution's.
    assert type(out.grad_fn).__name__ == '_DepthwiseConv2dSameBackward'
    assert torch.equal(out, out_ref)
    assert len(grads) == len(grads_ref) == 2 + bias
    for grad, grad_ref in zip(grads, grads_ref):
        assert grad.shape == grad_ref.shape
        assert _rel_err(grad, grad_ref) < 1e-5


def test_weight_gradient_equals_the_tap_sums():
    # grad_w[c, i, j] = sum over batch and pixels of x_pad[.., h + i d, w + j d] * grad_y[.., h, w]
    x = torch.randn(2, 3, 12, 12, generator=torch.Generator().manual_seed(3))
    grad_out = torch.randn(2, 3, 12, 12, generator=torch.Generator().manual_seed(4))
    weight = torch.randn(3, 1, 3, 3, requires_grad=True)
    out = depthwise_conv2d_same(x, weight, None, (2, 2), (2, 2))
    (grad_w,) = torch.autograd.grad(out, weight, grad_out)
    x_pad = F.pad(x, (2, 2, 2, 2))
    for i in range(3):
        for j in range(3):
            expected = (x_pad[:, :, 2 * i:2 * i + 12, 2 * j:2 * j + 12] * grad_out).sum((0, 2, 3))
            torch.testing.assert_close(grad_w[:, 0, i, j], expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize('kwargs', [dict(stride=2, padding=1), dict(padding=0),
                                    dict(padding=1, padding_mode='reflect')])
def test_other_convolutions_are_plain_conv2d(kwargs):
    torch.manual_seed(0)
    ours = DepthwiseGradConv2d(4, 4, 3, groups=4, **kwargs)
    ref = nn.Conv2d(4, 4, 3, groups=4, **kwargs)
    ref.load_state_dict(ours.state_dict())
    x = torch.randn(1, 4, 16, 16, requires_grad=True)
    out = ours(x)
    assert type(out.grad_fn).__name__ != '_DepthwiseConv2dSameBackward'
    torch.testing.assert_close(out, ref(x), rtol=0, atol=0)


def test_dense_and_no_grad_calls_are_plain_conv2d():
    torch.manual_seed(0)
    dense = DepthwiseGradConv2d(4, 6, 1)
    x = torch.randn(1, 4, 8, 8, requires_grad=True)
    assert not dense._fast_backward_applies(x)
    depthwise, ref = _pair(4, 3, 2, True)
    with torch.no_grad():
        assert not depthwise._fast_backward_applies(x)
        assert torch.equal(depthwise(x), ref(x))


def test_bfloat16_autocast_casts_like_a_convolution():
    ours, ref = _pair(8, 3, 6, True)
    x = torch.randn(2, 8, 32, 32, generator=torch.Generator().manual_seed(1))
    grad_out = torch.randn(2, 8, 32, 32, generator=torch.Generator().manual_seed(2))
    with torch.autocast('cpu', dtype=torch.bfloat16):
        out, grads = _grads(ours, x, grad_out.bfloat16())
        out_ref, grads_ref = _grads(ref, x, grad_out.bfloat16())
    assert out.dtype == out_ref.dtype == torch.bfloat16
    assert [g.dtype for g in grads] == [g.dtype for g in grads_ref] == [torch.float32] * 3
    torch.testing.assert_close(out, out_ref, rtol=0, atol=0)
    for grad, grad_ref in zip(grads, grads_ref):
        assert _rel_err(grad, grad_ref) < 2e-2


def test_wrong_padding_raises():
    with pytest.raises(ValueError, match='padding'):
        depthwise_conv2d_same(torch.zeros(1, 2, 8, 8), torch.zeros(2, 1, 3, 3), None, (1, 1),
                              (2, 2))


def test_separable_aspp_same_parameters_outputs_and_gradients():
    """The separable ASPP builds DepthwiseGradConv2d by default: the same random initialisation
    and state-dict keys as with plain convolutions, the same outputs and gradients."""
    torch.manual_seed(0)
    ours = ASPPWrapper(16, 8, dilations=(1, 2, 3), sep=True, norm_cfg=dict(type='BN'))
    torch.manual_seed(0)
    ref = ASPPWrapper(16, 8, dilations=(1, 2, 3), sep=True, norm_cfg=dict(type='BN'),
                      conv_cfg=dict(type='Conv2d'))
    assert type(ours.aspp_modules[1].depthwise_conv.conv) is DepthwiseGradConv2d
    assert type(ref.aspp_modules[1].depthwise_conv.conv) is nn.Conv2d
    state, state_ref = ours.state_dict(), ref.state_dict()
    assert list(state) == list(state_ref)
    assert all(torch.equal(state[k], state_ref[k]) for k in state)
    x = torch.randn(2, 16, 24, 24, generator=torch.Generator().manual_seed(1))
    out = ours(x)
    out_ref = ref(x)
    assert torch.equal(out, out_ref)
    out.square().sum().backward()
    out_ref.square().sum().backward()
    for (name, param), param_ref in zip(ours.named_parameters(), ref.parameters()):
        assert _rel_err(param.grad, param_ref.grad) < 1e-5, name
