"""Small helpers shared by models and hooks."""


def add_prefix(inputs, prefix):
    """Return a new dict whose keys are ``f'{prefix}.{key}'`` (log keys such as decode.loss_seg)."""
    return {f'{prefix}.{name}': value for name, value in inputs.items()}
