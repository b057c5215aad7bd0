# Polynomial learning-rate decay with power 1.0 down to min_lr, updated every iteration.
lr_config = dict(policy='poly', power=1.0, min_lr=1e-4, by_epoch=False)
