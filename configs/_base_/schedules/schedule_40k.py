# 40k-iteration schedule (docs/REFERENCE.md §5): iteration-based runner, one checkpoint at the end (only the
# newest kept), mIoU on the validation set every 4000 iterations.
runner = dict(type='IterBasedRunner', max_iters=40000)
checkpoint_config = dict(by_epoch=False, interval=40000, max_keep_ckpts=1)
evaluation = dict(interval=4000, metric='mIoU')
