# As gtaHR2csHR_mic_dinov2_vitb14.py with a DINOv2 ViT-L/14 encoder (VFM-UDA reports 77.1 mIoU
# with ViT-B/14 and 78.4 with ViT-L/14 under its own recipe; this config is untrained).
_base_ = ['gtaHR2csHR_mic_dinov2_vitb14.py']
# The encoder: DINOv2 ViT-L/14 (24 blocks, 1024 channels, 304M parameters).
model = dict(
    backbone=dict(
        model_name='vit_large_patch14_dinov2',
        checkpoint_path='pretrained/dinov2_vitl14.pth',
        # Four evenly spaced blocks of the 24 (6, 12, 18, 24), through the final LayerNorm.
        out_indices=[5, 11, 17, 23]),
    # ViT-L tokens have 1024 channels.
    neck=dict(in_channels=[1024, 1024, 1024, 1024]))
# Meta information for result tables.
name = 'gtaHR2csHR_mic_dinov2_vitl14_s0'
name_architecture = 'daformer_sepaspp_mln_dinov2vitl14'
name_encoder = 'dinov2vitl14'
