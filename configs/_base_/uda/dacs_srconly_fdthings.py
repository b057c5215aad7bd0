# Source-only training (domain generalisation, docs/domains.md) with DAFormer's thing-class
# ImageNet feature distance on the source images (lambda 0.005, classes: the thing classes,
# scale_min_ratio 0.75), which keeps the encoder close to its pre-trained features. No
# teacher: alpha and the pseudo-label keys are unused.
_base_ = ['dacs_srconly.py']
uda = dict(
    imnet_feature_dist_lambda=0.005,
    imnet_feature_dist_classes=[6, 7, 11, 12, 13, 14, 15, 16, 17, 18],
    imnet_feature_dist_scale_min_ratio=0.75,
)
