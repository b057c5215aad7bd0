# AdamW optimizer of DAFormer/HRDA/MIC (docs/REFERENCE.md §5). Configs add paramwise_cfg, e.g.
# custom_keys=dict(head=dict(lr_mult=10.), pos_block=dict(decay_mult=0.), norm=dict(decay_mult=0.)).
optimizer = dict(type='AdamW', lr=0.00006, betas=(0.9, 0.999), weight_decay=0.01)
# An OptimizerHook steps the optimizer; UDA configs set optimizer_config = None because the UDA
# wrapper's train_step steps it itself.
optimizer_config = dict()
