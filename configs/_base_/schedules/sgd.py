# SGD optimizer of the DeepLabV2 baselines (docs/REFERENCE.md §5; experiment 81 overrides lr to 0.0025).
optimizer = dict(type='SGD', lr=0.01, momentum=0.9, weight_decay=0.0005)
# See adamw.py: UDA configs set optimizer_config = None.
optimizer_config = dict()
