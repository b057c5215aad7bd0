"""Gradient comparison shared by the model tests (activation checkpointing, torch.compile)."""
import torch

__all__ = ['param_grads', 'assert_same_grads']


def param_grads(module):
    """{name: a copy of .grad} of the parameters of ``module`` that have one."""
    return {name: p.grad.clone() for name, p in module.named_parameters() if p.grad is not None}


def assert_same_grads(got, expected, tolerance, scale_by_largest=False):
    """Both dicts name the same (non-empty) set of gradients and each agrees within
    ``tolerance`` (relative and absolute; with ``scale_by_largest`` the absolute part is relative
    to the tensor's largest entry: a gradient is a sum, rounded alike only up to the size of its
    terms)."""
    assert expected and set(got) == set(expected)
    for name, grad in expected.items():
        atol = tolerance * grad.abs().max().item() if scale_by_largest else tolerance
        torch.testing.assert_close(got[name], grad, rtol=tolerance, atol=atol,
                                   msg=lambda m: f'{name}: {m}')
