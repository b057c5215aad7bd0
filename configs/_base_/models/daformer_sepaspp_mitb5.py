# DAFormer network with the "sepaspp" fusion used by DAFormer, HRDA and MIC (docs/REFERENCE.md §2.2): the
# concatenated embeddings pass depth-wise separable ASPP branches (dilations 1, 6, 12, 18)
# before a 3x3 bottleneck, which gives the decoder context at several receptive fields.
_base_ = ['daformer_conv1_mitb5.py']
norm_cfg = dict(type='BN', requires_grad=True)
model = dict(
    decode_head=dict(
        decoder_params=dict(
            # Replace the 1x1 conv fusion of the base as a whole (no key merging).
            fusion_cfg=dict(
                _delete_=True,
                type='aspp',
                sep=True,
                dilations=(1, 6, 12, 18),
                pool=False,
                act_cfg=dict(type='ReLU'),
                norm_cfg=norm_cfg))))
