# DACS self-training with teacher alpha 0.999 and no ImageNet feature distance (VFM-UDA's
# vanilla setting, arXiv 2406.09896: the foundation-model encoder is not pulled towards its
# pretrained features).
_base_ = ['dacs.py']
uda = dict(alpha=0.999)
