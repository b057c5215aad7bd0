"""Layer-wise learning-rate decay for ViT encoders (BEiT, Bao et al. 2022, Sec. 3.3; DINOv2).

Block i of the encoder (0-based, of L blocks) trains with lr x rate^(L - i); the patch
embedding, position embedding and class/register tokens with lr x rate^(L + 1); everything
else (final norm, neck, heads) with the full lr. Parameter-wise ``custom_keys`` multipliers of
mmcv apply on top.
"""
import re

from mmcv.runner import OPTIMIZER_BUILDERS, DefaultOptimizerConstructor
from mmcv.runner.optimizer.builder import OPTIMIZERS
from mmcv.utils import build_from_cfg

from mmseg.utils.errors import UserInputError

__all__ = ['LayerDecayOptimizerConstructor', 'get_vit_layer_id']

BLOCK_PATTERN = re.compile(r'(?:^|\.)backbone\.(?:.+\.)?blocks\.(\d+)\.')
STEM_PATTERN = re.compile(
    r'(?:^|\.)backbone\.(?:.+\.)?(patch_embed|cls_token|reg_token|pos_embed|mask_token)')


def get_vit_layer_id(param_name, num_layers):
    """0 for the stem of a backbone ViT, i + 1 for its block i, num_layers + 1 otherwise."""
    block = BLOCK_PATTERN.search(param_name)
    if block:
        return int(block.group(1)) + 1
    if STEM_PATTERN.search(param_name):
        return 0
    return num_layers + 1


@OPTIMIZER_BUILDERS.register_module()
class LayerDecayOptimizerConstructor(DefaultOptimizerConstructor):
    """mmcv's constructor plus ``paramwise_cfg`` keys ``layer_decay_rate`` (1.0 = off) and
    ``num_layers`` (blocks of the backbone; counted from the parameter names when absent).

    Use: ``optimizer = dict(type='AdamW', lr=..., constructor='LayerDecayOptimizerConstructor',
    paramwise_cfg=dict(layer_decay_rate=0.9, custom_keys=...))``.
    Raises ValueError if the rate is not in (0, 1] or no ``backbone.*blocks.N`` parameter exists.
    """

    def __init__(self, optimizer_cfg, paramwise_cfg=None):
        paramwise_cfg = dict(paramwise_cfg or {})
        self.layer_decay_rate = paramwise_cfg.pop('layer_decay_rate', 1.0)
        self.num_layers = paramwise_cfg.pop('num_layers', None)
        if not 0 < self.layer_decay_rate <= 1:
            raise UserInputError(f'optimizer.paramwise_cfg.layer_decay_rate must be in (0, 1], '
                                 f'got {self.layer_decay_rate}')
        super().__init__(optimizer_cfg, paramwise_cfg)

    def __call__(self, model):
        if hasattr(model, 'module'):
            model = model.module
        params = []
        self.add_params(params, model)
        names = {id(p): n for n, p in model.named_parameters()}
        num_layers = self.num_layers or self._count_blocks(names.values())
        for group in params:
            layer_id = get_vit_layer_id(names[id(group['params'][0])], num_layers)
            scale = self.layer_decay_rate ** (num_layers + 1 - layer_id)
            group['lr'] = group.get('lr', self.base_lr) * scale
        optimizer_cfg = self.optimizer_cfg.copy()
        optimizer_cfg['params'] = params
        return build_from_cfg(optimizer_cfg, OPTIMIZERS)

    @staticmethod
    def _count_blocks(names):
        ids = [int(m.group(1)) for m in map(BLOCK_PATTERN.search, names) if m]
        if not ids:
            raise UserInputError('LayerDecayOptimizerConstructor: the model has no backbone '
                                 'blocks (parameters named backbone.*blocks.N); set num_layers '
                                 'or drop the constructor')
        return max(ids) + 1
