# DACS with the ImageNet feature distance on all pixels (no class restriction).
_base_ = ['dacs.py']
uda = dict(imnet_feature_dist_lambda=0.005, )
