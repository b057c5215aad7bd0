# Toy MIC(HRDA): the headline method of MIC on the toy data, CPU-sized. The toy MIC(DAFormer)
# run (self-training + masked image consistency, 16 px blocks) with HRDA's two scales:
# a 0.5-scale context view of the 128x128 training crop and a full-resolution 64x64 detail crop
# (the same ratios as 512 detail / 1024 crop of the real config), fused by a learned scale
# attention; pseudo-labels and tests slide over the detail windows. Same as experiments.py toy
# id 7. Test with `--hrda-out LR|HR|ATT --show-dir DIR` to see the two scales and the attention.
_base_ = ['toy_gta2cs_mic_daformer.py']
model = dict(
    type='HRDAEncoderDecoder',
    decode_head=dict(
        type='HRDAHead',
        single_scale_head='DAFormerHead',
        attention_classwise=True,
        # Extra loss on the detail prediction alone; the fused output gets 0.9.
        hr_loss_weight=0.1,
        # The scale-attention decoder as wide as the toy decoder (256 with MiT-B5).
        attention_embed_dim=64),
    scales=[1, 0.5],
    hr_crop_size=(64, 64),
    feature_scale=0.5,
    # Crop offsets on the grid of the context logits (output stride 4 x downscale 2).
    crop_coord_divisible=8,
    hr_slide_inference=True,
    # Test time: overlapping 128x128 windows with stride 64 over the 256x128 toy frame, batched.
    test_cfg=dict(mode='slide', batched_slide=True, stride=[64, 64], crop_size=[128, 128]))
name = 'toy_gta2cs_mic_hrda'
name_architecture = 'hrda1-64-0.1_daformer_sepaspp_sl_mittiny'
name_decoder = 'hrda1-64-0.1_daformer_sepaspp_sl'
