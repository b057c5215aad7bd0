"""DINOv2 weights in the layouts users have, converted to timm's ViT layout.

Three layouts exist: timm's (``blocks.0.attn.qkv.weight``), the original torch-hub one of
facebookresearch/dinov2 (``blocks.0.attn.qkv.weight`` too, but ``register_tokens``, ``mask_token``
and ``mlp.w12``/``mlp.w3`` for ViT-g) and HuggingFace's ``facebook/dinov2-*``
(``encoder.layer.0.attention.attention.query.weight`` in the released files,
``encoder.layer.0.attention.q_proj.weight`` in the state dict of transformers >= 5, with
``dinov2.`` in front in the classification checkpoints). The ViT maths is the same; only names
and packing differ.
"""
import re

import torch

__all__ = ['convert_to_timm_layout', 'convert_hf_dinov2_to_timm', 'convert_hub_dinov2_to_timm',
           'is_hf_dinov2']

# HuggingFace Dinov2Layer sub-module -> timm Block sub-module (same tensors).
HF_LAYER_RENAMES = (
    ('norm1.', 'norm1.'),
    ('norm2.', 'norm2.'),
    ('attention.output.dense.', 'attn.proj.'),
    ('attention.o_proj.', 'attn.proj.'),
    ('layer_scale1.lambda1', 'ls1.gamma'),
    ('layer_scale2.lambda1', 'ls2.gamma'),
    ('mlp.fc1.', 'mlp.fc1.'),
    ('mlp.fc2.', 'mlp.fc2.'),
    # SwiGLU feed-forward of ViT-g: the packed (gate, value) projection and the output one
    # (released files); transformers >= 5 splits the first into gate_proj and up_proj.
    ('mlp.weights_in.', 'mlp.fc1.'),
    ('mlp.weights_out.', 'mlp.fc2.'),
    ('mlp.down_proj.', 'mlp.fc2.'),
)
QKV_SHORT = dict(q='query', k='key', v='value')
# Order of the parts in timm's packed tensors: attention q, k, v; SwiGLU gate (through SiLU), up.
PACKED_ORDER = {'qkv': ('query', 'key', 'value'), 'fc1': ('gate', 'up')}
HF_EMBEDDING_RENAMES = {
    'embeddings.cls_token': 'cls_token',
    'embeddings.mask_token': 'mask_token',
    'embeddings.register_tokens': 'register_tokens',
    'embeddings.position_embeddings': 'pos_embed',
    'embeddings.patch_embeddings.projection.weight': 'patch_embed.proj.weight',
    'embeddings.patch_embeddings.projection.bias': 'patch_embed.proj.bias',
    'layernorm.weight': 'norm.weight',
    'layernorm.bias': 'norm.bias',
}


def is_hf_dinov2(state_dict):
    """Whether ``state_dict`` is in HuggingFace's Dinov2Model layout (with or without
    ``dinov2.`` in front of the keys)."""
    return any(k.startswith(('embeddings.', 'dinov2.embeddings.')) for k in state_dict)


def convert_hf_dinov2_to_timm(state_dict):
    """HuggingFace ``facebook/dinov2-*`` state dict -> torch-hub DINOv2 layout -> timm's.

    Query, key and value projections are concatenated (in that order) into ``attn.qkv``, and
    transformers-5 SwiGLU ``gate_proj``/``up_proj`` into ``mlp.fc1``. Keys outside the encoder
    (a classifier) keep their names, for the loader to ignore or list. Raises ValueError if a
    layer lacks one of the parts of a packed tensor.
    """
    if any(k.startswith('dinov2.') for k in state_dict):
        state_dict = {(k[len('dinov2.'):] if k.startswith('dinov2.') else k): v
                      for k, v in state_dict.items()}
    hub, packed = {}, {}
    for key, value in state_dict.items():
        match = re.match(r'encoder\.layer\.(\d+)\.(.+)', key)
        if key in HF_EMBEDDING_RENAMES:
            hub[HF_EMBEDDING_RENAMES[key]] = value
        elif match is None:
            hub[key] = value
        else:
            block, rest = match.groups()
            part = _packed_part(rest)
            if part is None:
                hub[f'blocks.{block}.{_rename_hf_layer_key(rest, key)}'] = value
            else:
                target, name, kind = part
                packed.setdefault(f'blocks.{block}.{target}.{kind}', {})[name] = value
    for target, parts in packed.items():
        order = PACKED_ORDER[target.split('.')[-2]]
        if set(parts) != set(order):
            raise ValueError(f'HuggingFace DINOv2 {target}: has only {sorted(parts)}, expected '
                             f'{", ".join(order)}')
        hub[target] = torch.cat([parts[name] for name in order], dim=0)
    return convert_hub_dinov2_to_timm(hub)


def _packed_part(rest):
    """(timm tensor, part name, weight|bias) of a tensor that timm packs with others, or None."""
    qkv = re.match(r'attention\.(?:attention\.(query|key|value)|([qkv])_proj)\.(weight|bias)$',
                   rest)
    if qkv:
        return 'attn.qkv', qkv.group(1) or QKV_SHORT[qkv.group(2)], qkv.group(3)
    swiglu = re.match(r'mlp\.(gate|up)_proj\.(weight|bias)$', rest)
    if swiglu:
        return 'mlp.fc1', swiglu.group(1), swiglu.group(2)
    return None


def _rename_hf_layer_key(rest, full_key):
    for old, new in HF_LAYER_RENAMES:
        if rest.startswith(old):
            return new + rest[len(old):]
    raise ValueError(f'unknown HuggingFace DINOv2 key {full_key!r}')


def convert_hub_dinov2_to_timm(state_dict):
    """torch-hub DINOv2 layout -> timm's: SwiGLU ``w12``/``w3`` renamed to ``fc1``/``fc2``, and
    for models with registers the class token's position embedding folded into the class
    token (timm adds position embeddings to patch tokens only in those models)."""
    out = {}
    for key, value in state_dict.items():
        out[re.sub(r'(blocks\.\d+\.mlp\.)w12\.', r'\1fc1.', re.sub(
            r'(blocks\.\d+\.mlp\.)w3\.', r'\1fc2.', key))] = value
    if 'register_tokens' in out:
        pos_embed = out['pos_embed']
        out['reg_token'] = out.pop('register_tokens')
        out['cls_token'] = out['cls_token'] + pos_embed[:, :1]
        out['pos_embed'] = pos_embed[:, 1:]
    return out


def convert_to_timm_layout(state_dict):
    """Any of the three DINOv2 layouts (or any other timm state dict) in timm's layout."""
    if is_hf_dinov2(state_dict):
        return convert_hf_dinov2_to_timm(state_dict)
    if 'register_tokens' in state_dict or any('.mlp.w12.' in k for k in state_dict):
        return convert_hub_dinov2_to_timm(state_dict)
    return dict(state_dict)
