# Runtime settings shared by all configs (docs/REFERENCE.md §5).
# Logging: one text line and one JSON dict (<timestamp>.log.json) every 50 iterations;
# img_interval is how often UDA methods may write debug images. The same losses, the learning
# rate, the validation metrics and the debug images also go to TensorBoard
# (<work_dir>/tf_logs; view with `tensorboard --logdir work_dirs`).
log_config = dict(
    interval=50,
    img_interval=1000,
    hooks=[
        dict(type='TextLoggerHook', by_epoch=False),
        dict(type='UDATensorboardLoggerHook', by_epoch=False),
    ])
# Backend of torch.distributed when launched with --launcher pytorch/slurm/mpi.
dist_params = dict(backend='nccl')
log_level = 'INFO'
# Checkpoint to initialise from (weights only) / to resume from (weights, optimizer, iteration).
load_from = None
resume_from = None
# Only training phases; validation runs through the evaluation hook.
workflow = [('train', 1)]
cudnn_benchmark = True
# CPU runs: freed memory stays with the process and is reused by the next step instead of being
# unmapped and zeroed again by the kernel (mmseg/utils/cpu_malloc.py; docs/performance.md).
cpu_malloc_reuse = True
# torch.compile of the student (mmseg/models/utils/torch_compile.py; docs/performance.md): off.
# `compile = True` or `compile = dict(backend='inductor', mode=None, dynamic=None,
# fullgraph=False)` (torch.compile's arguments) turns it on. Left unset here (unset = None = off)
# rather than written `compile = None`, so that `--cfg-options compile.mode=max-autotune` can
# create the dict: mmcv cannot merge a dict into a None.
# UDA methods use only part of the network in some steps (e.g. the frozen ImageNet model).
find_unused_parameters = True
