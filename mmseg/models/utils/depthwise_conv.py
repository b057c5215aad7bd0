"""A faster CPU backward pass for the dilated depth-wise convolutions of DAFormer's separable ASPP.

oneDNN's backward pass of a dilated depth-wise convolution (groups = channels) in PyTorch's CPU
build is several times slower than its forward pass: one 2×1024×64×64 convolution with dilation
6, 12 or 18 (the ASPP fusion of a MiT-B0 MIC(HRDA) training step at 512 crops) took 0.17-0.24 s
forward + backward on 2 threads, against 0.04-0.10 s with the backward pass below. Both
gradients of a stride-1, 'same'-padded depth-wise convolution are depth-wise convolutions too:

- input:  grad_x = conv(grad_y, w flipped in both spatial axes, same padding and dilation);
- weight: grad_w[c, i, j] = Σ_b Σ_{h,w} x_pad[b, c, h + i·d, w + j·d] · grad_y[b, c, h, w], a
  depth-wise convolution of the padded input (batch folded into channels) with grad_y as its
  H×W kernel, taken at stride d, summed over the batch.

The forward pass is ``F.conv2d`` unchanged; the gradients equal PyTorch's up to float rounding
(relative 1.8e-6 in float32 on the maps above; tests/models/test_depthwise_conv.py require
1e-5). The times above are of the convolution alone; the whole training step is in
docs/performance.md.
"""
import torch
import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn import CONV_LAYERS

__all__ = ['DepthwiseGradConv2d', 'depthwise_conv2d_same']


class _DepthwiseConv2dSame(torch.autograd.Function):
    """y = conv2d(x, w, b, stride 1, padding = dilation·(k−1)/2, groups = C) with the backward
    pass written as two depth-wise convolutions (module docstring)."""

    @staticmethod
    def forward(ctx, x, weight, bias, padding, dilation):
        ctx.save_for_backward(x, weight)
        ctx.padding, ctx.dilation = padding, dilation
        ctx.has_bias = bias is not None
        return F.conv2d(x, weight, bias, 1, padding, dilation, x.shape[1])

    @staticmethod
    def backward(ctx, grad_out):
        x, weight = ctx.saved_tensors
        padding, dilation = ctx.padding, ctx.dilation
        grad_out = grad_out.contiguous()
        batch, channels, height, width = x.shape
        grad_x = grad_w = grad_b = None
        if ctx.needs_input_grad[0]:
            grad_x = F.conv2d(grad_out, weight.flip(-1, -2), None, 1, padding, dilation,
                              channels)
        if ctx.needs_input_grad[1]:
            x_pad = F.pad(x, (padding[1], padding[1], padding[0], padding[0]))
            x_pad = x_pad.reshape(1, batch * channels, *x_pad.shape[2:])
            kernel = grad_out.reshape(batch * channels, 1, height, width)
            grad_w = F.conv2d(x_pad, kernel, None, dilation, 0, 1, batch * channels)
            grad_w = grad_w.reshape(batch, channels, *weight.shape[2:]).sum(0)
            grad_w = grad_w.unsqueeze(1).to(weight.dtype)
        if ctx.has_bias and ctx.needs_input_grad[2]:
            grad_b = grad_out.sum((0, 2, 3))
        return grad_x, grad_w, grad_b, None, None


def depthwise_conv2d_same(x, weight, bias, padding, dilation):
    """Depth-wise convolution with 'same' padding and stride 1, with the faster backward pass.

    x: B×C×H×W, weight: C×1×k_h×k_w (odd sizes), bias: C or None, padding and dilation:
    (int, int) with padding = dilation·(k−1)/2 in each axis. Returns B×C×H×W, equal to
    ``F.conv2d(x, weight, bias, 1, padding, dilation, groups=C)``. Under CPU autocast the
    inputs are cast to its dtype first, as autocast casts a convolution's inputs.
    Raises ValueError for another padding or weight shape.
    """
    k_h, k_w = weight.shape[2:]
    if (weight.shape[:2] != (x.shape[1], 1) or k_h % 2 == 0 or k_w % 2 == 0
            or tuple(padding) != (dilation[0] * (k_h - 1) // 2, dilation[1] * (k_w - 1) // 2)):
        raise ValueError(f'depthwise_conv2d_same needs a C×1×k×k weight with odd k and padding '
                         f'dilation·(k−1)/2, got weight {tuple(weight.shape)} for {x.shape[1]} '
                         f'channels, padding {tuple(padding)}, dilation {tuple(dilation)}')
    device_type = x.device.type
    if torch.is_autocast_enabled(device_type):
        dtype = torch.get_autocast_dtype(device_type)
        x, weight = x.to(dtype), weight.to(dtype)
        bias = None if bias is None else bias.to(dtype)
        with torch.autocast(device_type, enabled=False):
            return _DepthwiseConv2dSame.apply(x, weight, bias, tuple(padding), tuple(dilation))
    return _DepthwiseConv2dSame.apply(x, weight, bias, tuple(padding), tuple(dilation))


@CONV_LAYERS.register_module('DepthwiseGradConv2d')
class DepthwiseGradConv2d(nn.Conv2d):
    """``nn.Conv2d`` (same arguments, parameters and state-dict keys) whose depth-wise case
    (groups = in = out channels, stride 1, odd kernel, 'same' zero padding) takes the faster
    backward pass of :func:`depthwise_conv2d_same` when it runs on the CPU with gradients.
    Every other case, and every CUDA or no-grad call, is ``nn.Conv2d.forward`` unchanged.
    ``conv_cfg=dict(type='DepthwiseGradConv2d')``; DAFormer's separable ASPP uses it by default.
    """

    def _fast_backward_applies(self, x):
        if x.device.type != 'cpu' or not torch.is_grad_enabled():
            return False
        if not (x.requires_grad or self.weight.requires_grad):
            return False
        k_h, k_w = self.kernel_size
        return (self.groups == self.in_channels == self.out_channels
                and self.stride == (1, 1) and self.padding_mode == 'zeros'
                and k_h % 2 == 1 and k_w % 2 == 1 and not isinstance(self.padding, str)
                and tuple(self.padding) == (self.dilation[0] * (k_h - 1) // 2,
                                            self.dilation[1] * (k_w - 1) // 2))

    def forward(self, x):
        if self._fast_backward_applies(x):
            return depthwise_conv2d_same(x, self.weight, self.bias, self.padding, self.dilation)
        return super().forward(x)
