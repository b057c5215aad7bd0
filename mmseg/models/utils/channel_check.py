"""Build-time check that a decode head reads feature maps of the widths the backbone gives.

A mismatch (e.g. ``backbone=dict(type='mit_b0')`` under a head configured for MiT-B5's
``in_channels=[64, 128, 320, 512]``) would otherwise surface as a matrix-shape error in the
first forward pass.
"""
__all__ = ['backbone_out_channels', 'check_head_in_channels']


def backbone_out_channels(backbone):
    """Channels of each feature map the backbone returns (a list), or None when unknown.

    MiT: its ``embed_dims`` (4 maps); ResNet: the last block of each stage in ``out_indices``.
    """
    if hasattr(backbone, 'embed_dims') and hasattr(backbone, 'block1'):
        return list(backbone.embed_dims)
    if hasattr(backbone, 'res_layers') and hasattr(backbone, 'out_indices'):
        try:
            stages = [getattr(backbone, name) for name in backbone.res_layers]
            widths = [stage[-1].conv3.out_channels for stage in stages]
        except (AttributeError, IndexError, TypeError):
            return None
        return [widths[i] for i in backbone.out_indices]
    return None


def _as_list(value):
    return list(value) if isinstance(value, (list, tuple)) else [value]


def check_head_in_channels(backbone, head_cfg, head_name='decode_head'):
    """Raise ValueError naming both sides when ``head_cfg``'s in_channels (at its in_index)
    differ from the backbone's output channels. Unknown backbones or heads without in_channels
    are not checked."""
    channels = backbone_out_channels(backbone)
    if channels is None or head_cfg.get('in_channels') is None:
        return
    in_channels = _as_list(head_cfg['in_channels'])
    in_index = _as_list(head_cfg.get('in_index', -1))
    if len(in_index) != len(in_channels):
        # A single index with summed channels (e.g. resize_concat with one index) is unusual;
        # leave it to the head's own checks.
        return
    backbone_name = type(backbone).__name__
    try:
        given = [channels[i] for i in in_index]
    except IndexError:
        raise ValueError(f'{head_name}.in_index {in_index} reads feature maps the backbone '
                         f'{backbone_name} does not return: it returns {len(channels)} maps '
                         f'with channels {channels}') from None
    if given != in_channels:
        raise ValueError(
            f'{head_name}.in_channels {in_channels} (in_index {in_index}) does not match the '
            f'backbone {backbone_name}, which gives channels {given} there (all outputs: '
            f'{channels}); set {head_name}.in_channels={given}')
