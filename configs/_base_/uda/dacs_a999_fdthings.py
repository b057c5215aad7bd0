# DAFormer: DACS with teacher alpha 0.999 and the ImageNet feature distance on thing classes.
_base_ = ['dacs.py']
uda = dict(
    alpha=0.999,
    imnet_feature_dist_lambda=0.005,
    # traffic light, traffic sign, person, rider, car, truck, bus, train, motorcycle, bicycle
    imnet_feature_dist_classes=[6, 7, 11, 12, 13, 14, 15, 16, 17, 18],
    imnet_feature_dist_scale_min_ratio=0.75,
)
