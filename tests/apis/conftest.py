"""Fakes for the API tests: a one-parameter model and a dataset that records what it evaluates."""
import numpy as np
import pytest
import torch
from torch import nn
from torch.utils.data import Dataset

from mmseg.datasets import DATASETS


class ConstantModel(nn.Module):
    """Predicts ``value`` everywhere; its loss pulls the weight towards 0.

    ``steps_itself`` mimics a UDA wrapper: train_step does zero_grad/backward/step itself and
    returns only log_vars and num_samples (docs/REFERENCE.md §3.1).
    """

    def __init__(self, value=1, steps_itself=False):
        super().__init__()
        self.weight = nn.Parameter(torch.tensor([2.0]))
        self.value = value
        self.steps_itself = steps_itself

    def forward(self, img, img_metas=None, return_loss=True, **kwargs):
        if return_loss:
            return dict(loss=(self.weight ** 2).sum())
        return [np.full(tuple(i.shape[-2:]), self.value, dtype=np.int64) for i in img]

    def train_step(self, data_batch, optimizer, **kwargs):
        loss = self(**data_batch)['loss']
        log_vars = dict(loss=loss.item())
        if self.steps_itself:
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            return dict(log_vars=log_vars, num_samples=len(data_batch['img']))
        return dict(loss=loss, log_vars=log_vars, num_samples=len(data_batch['img']))


class TinyDataset(Dataset):
    """``length`` 4×6 images; evaluate returns the fraction of pixels predicted as 1."""

    CLASSES = ('background', 'thing')
    PALETTE = [[0, 0, 0], [255, 0, 0]]

    def __init__(self, length=3, test_mode=False, pipeline=None):
        self.length = length
        self.evaluated = []

    def __len__(self):
        return self.length

    def __getitem__(self, idx):
        return dict(img=torch.full((3, 4, 6), float(idx)))

    def evaluate(self, results, metric='mIoU', logger=None, **kwargs):
        self.evaluated.append((list(results), metric, kwargs))
        arrays = [np.load(r) if isinstance(r, str) else r for r in results]
        return dict(mIoU=float(np.mean([np.mean(a == 1) for a in arrays])))


if 'TinyDataset' not in DATASETS.module_dict:
    DATASETS.register_module(module=TinyDataset)


@pytest.fixture
def constant_model():
    return ConstantModel


@pytest.fixture
def tiny_dataset():
    return TinyDataset
