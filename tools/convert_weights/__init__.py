"""Weight converters: checkpoints of other layouts into the layouts mic-seg loads."""
