# Pre-training of the toy warm start (tools/make_toy_pretrained.py keeps its backbone as
# data/toy/mittiny_toygta.pth): the toy source-only setting trained from scratch for 800
# iterations on toy GTA (labelled source only; no target image is seen). It stands in for the
# ImageNet pre-training of the real runs. Not one of the benchmark runs.
_base_ = ['toy_gta2cs_source_only.py']
model = dict(pretrained=None)
# Twice the toy schedule, with the same 40-iteration warm-up.
runner = dict(max_iters=800)
lr_config = dict(warmup_iters=40)
checkpoint_config = dict(interval=800)
evaluation = dict(interval=800)
name = 'toy_pretrain_mittiny'
name_uda = 'source-only-pretrain'
name_opt = 'adamw_0.0003_pmTrue_poly10warm_1x2_0k'
