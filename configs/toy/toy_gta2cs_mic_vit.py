# Toy MIC with a foundation-model-style encoder: toy MIC(DAFormer) (masked consistency on top of
# DACS self-training) with a tiny ViT/14 of DINOv2's architecture from timm (64 channels, 4
# blocks, random weights: there is no pretrained toy ViT), a multi-level neck that resamples its
# 1/14 patch grid to strides 4-32, and the toy's 64-channel DAFormer head. 128 px crops are
# padded to 140 px (10 x 10 patches) inside the ViT. Same as experiments.py toy id 6.
_base_ = ['toy_gta2cs_mic_daformer.py']
model = dict(
    # No warm start: the toy MiT's pre-trained weights do not fit a ViT.
    pretrained=None,
    backbone=dict(
        _delete_=True,
        type='TIMMBackbone',
        model_name='vit_small_patch14_dinov2',
        embed_dim=64,
        depth=4,
        num_heads=2,
        # Every block's output, through the final LayerNorm.
        out_indices=[0, 1, 2, 3],
        norm=True),
    neck=dict(
        type='MultiLevelNeck',
        in_channels=[64, 64, 64, 64],
        out_channels=64,
        out_strides=[4, 8, 16, 32]),
    decode_head=dict(in_channels=[64, 64, 64, 64]))
name = 'toy_gta2cs_mic_vit'
name_architecture = 'daformer_sepaspp_mln_vittiny14'
name_encoder = 'vittiny14'
name_decoder = 'daformer_sepaspp_mln'
# The decoder learns 10x faster; MiT's pos_block / norm weight-decay exceptions of the toy base
# are dropped for the ViT (as experiments.py toy id 6).
optimizer = dict(
    paramwise_cfg=dict(custom_keys=dict(_delete_=True, head=dict(lr_mult=10.0))))
