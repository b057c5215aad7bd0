# Polynomial decay (power 1.0, down to 0) after a linear warm-up over the first 1500 iterations
# starting from lr * 1e-6 (docs/REFERENCE.md §5), updated every iteration.
lr_config = dict(
    policy='poly',
    warmup='linear',
    warmup_iters=1500,
    warmup_ratio=1e-6,
    power=1.0,
    min_lr=0.0,
    by_epoch=False)
