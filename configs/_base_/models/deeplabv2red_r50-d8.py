# Reduced DeepLabV2 (docs/REFERENCE.md §2.2, "dlv2red"): the same network with only the dilations 6 and 12 in
# the classifier, the variant the DAFormer/HRDA/MIC papers use for their DeepLabV2 results.
_base_ = ['deeplabv2_r50-d8.py']
model = dict(decode_head=dict(dilations=(6, 12)))
