"""DeepLabV2's classifier: summed dilated 3×3 convs straight to the classes (docs/REFERENCE.md §2.2)."""
import torch.nn as nn

from ..builder import HEADS
from .aspp_head import ASPPModule
from .decode_head import BaseDecodeHead

__all__ = ['DLV2Head']


@HEADS.register_module()
class DLV2Head(BaseDecodeHead):
    """x B×in_channels×h×w → Σ_d Conv3×3_d(x): B×num_classes×h×w.

    No dropout, no norm, no ``conv_seg``; convs initialised Normal(0, 0.01), biases 0.
    """

    def __init__(self, dilations=(6, 12, 18, 24), **kwargs):
        for fixed in ('channels', 'dropout_ratio', 'norm_cfg', 'act_cfg'):
            if fixed in kwargs:
                raise ValueError(f'DLV2Head sets {fixed} itself; remove it from the config')
        kwargs.setdefault('init_cfg',
                          dict(type='Normal', std=0.01, override=dict(name='aspp_modules')))
        num_classes = kwargs.get('num_classes', 19)
        super().__init__(channels=num_classes, dropout_ratio=0, norm_cfg=None, act_cfg=None,
                         **kwargs)
        if self.input_transform is not None:
            raise ValueError('DLV2Head reads one backbone map: input_transform must be None')
        # The branches are the classifier itself, so the base class' conv_seg goes.
        del self.conv_seg
        self.aspp_modules = ASPPModule(dilations, self.in_channels, self.num_classes,
                                       conv_cfg=self.conv_cfg, norm_cfg=None, act_cfg=None)
        for branch in self.aspp_modules:
            nn.init.normal_(branch.conv.weight, mean=0, std=0.01)
            nn.init.zeros_(branch.conv.bias)

    def forward(self, inputs):
        x = self._transform_inputs(inputs)
        out = None
        for branch_out in self.aspp_modules(x):
            out = branch_out if out is None else out + branch_out
        return out
