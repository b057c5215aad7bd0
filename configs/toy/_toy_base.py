# Shared base of the toy runs (configs/toy/*.py): the tiny DAFormer, its optimiser and a short
# CPU schedule. The run configs add a dataset base (and a UDA base). Not a run by itself.
_base_ = [
    '../_base_/default_runtime.py',
    # Tiny MiT (widths 16-128, one block per stage) + 64-channel DAFormer sepaspp decoder.
    '../_base_/models/daformer_sepaspp_mittiny.py',
    '../_base_/schedules/adamw.py',
    '../_base_/schedules/poly10warm.py'
]
seed = 0
# Warm start standing in for ImageNet pre-training (the real runs load SegFormer's MiT-B5
# weights): the backbone of an 800-iteration source-only run on toy GTA, made once by
# `python tools/make_toy_pretrained.py` (configs/toy/toy_pretrain_mittiny.py). From scratch, the
# tiny MiT learns too few classes in a short run for self-training to start from. Every toy
# MiT run loads it, source-only and the oracle included; the decode head starts from scratch.
model = dict(pretrained='data/toy/mittiny_toygta.pth')
# The tiny network needs a larger learning rate than MiT-B5 (6e-5); the decoder again learns 10x
# faster.
optimizer = dict(
    lr=0.0003,
    paramwise_cfg=dict(
        custom_keys=dict(
            head=dict(lr_mult=10.0),
            pos_block=dict(decay_mult=0.0),
            norm=dict(decay_mult=0.0))))
# 400 iterations of batch 2; warm-up over the first 40 instead of 1500. (At 800 iterations the
# source-only baseline starts to learn the small classes that self-training's pseudo-labels of
# the tiny network wipe out, and MIC's lead shrinks: docs/toy_benchmark.md.)
runner = dict(type='IterBasedRunner', max_iters=400)
lr_config = dict(warmup_iters=40)
checkpoint_config = dict(by_epoch=False, interval=400, max_keep_ckpts=1)
# mIoU on toy Cityscapes val every 100 iterations; a log line every 20.
evaluation = dict(interval=100, metric='mIoU')
log_config = dict(interval=20)
n_gpus = 1
gpu_model = 'cpu'
exp = 'toy'
name_architecture = 'daformer_sepaspp_mittiny'
name_encoder = 'mittiny'
name_decoder = 'daformer_sepaspp'
name_opt = 'adamw_0.0003_pmTrue_poly10warm_1x2_0k'
