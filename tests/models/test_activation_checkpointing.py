"""with_cp (MiT blocks) and hr_with_cp (HRDA detail pass): same outputs and gradients, less
stored activations (torch.utils.checkpoint, recomputed in the backward pass)."""
import copy
import random
import sys
from pathlib import Path

import numpy as np
import torch
import torch.utils.checkpoint

from mmseg.models import build_backbone, build_segmentor

sys.path.insert(0, str(Path(__file__).parent / 'uda'))
from grad_helpers import assert_same_grads, param_grads  # noqa: E402
from uda_helpers import make_uda_batch, tiny_hrda_cfg  # noqa: E402

TINY_MIT = dict(type='MixVisionTransformer', embed_dims=[8, 16, 32, 64], num_heads=[1, 1, 2, 4],
                depths=[2, 1, 1, 1], sr_ratios=[8, 4, 2, 1], drop_path_rate=0.2)


def _count_checkpoints(monkeypatch):
    calls = []
    original = torch.utils.checkpoint.checkpoint

    def counting(function, *args, **kwargs):
        calls.append(kwargs.get('use_reentrant'))
        return original(function, *args, **kwargs)

    monkeypatch.setattr(torch.utils.checkpoint, 'checkpoint', counting)
    return calls


def test_mit_with_cp_gives_the_same_outputs_and_gradients(monkeypatch):
    calls = _count_checkpoints(monkeypatch)
    torch.manual_seed(0)
    plain = build_backbone(dict(TINY_MIT)).train()
    checkpointed = build_backbone(dict(TINY_MIT, with_cp=True)).train()
    checkpointed.load_state_dict(plain.state_dict())
    img = torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(1))
    outputs = []
    for model in (plain, checkpointed):
        torch.manual_seed(5)  # the same DropPath draws; checkpoint replays them when recomputing
        outs = model(img)
        sum((o * torch.linspace(-1, 1, o.numel()).view_as(o)).sum() for o in outs).backward()
        outputs.append(outs)
    assert calls == [False] * 5  # every block of the checkpointed model, non-reentrant
    for expected, got in zip(*outputs):
        torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-5)
    assert_same_grads(param_grads(checkpointed), param_grads(plain), 1e-5)
    with torch.no_grad():  # no checkpointing without gradients (inference, teacher)
        checkpointed(img)
    assert len(calls) == 5


def test_hrda_detail_pass_with_cp_gives_the_same_losses_and_gradients(monkeypatch):
    calls = _count_checkpoints(monkeypatch)
    torch.manual_seed(0)
    plain = build_segmentor(tiny_hrda_cfg()).train()
    checkpointed = build_segmentor(dict(tiny_hrda_cfg(), hr_with_cp=True)).train()
    checkpointed.load_state_dict(copy.deepcopy(plain.state_dict()))
    batch = make_uda_batch(seed=0)
    losses = []
    for model in (plain, checkpointed):
        random.seed(0)  # the same detail crop box
        np.random.seed(0)
        out = model.forward_train(batch['img'], batch['img_metas'], batch['gt_semantic_seg'])
        total = out['decode.loss_seg'] + out['decode.hr.loss_seg']
        total.backward()
        losses.append(total.item())
    assert calls == [False]  # the detail pass of the checkpointed model
    assert losses[1] == losses[0]
    assert_same_grads(param_grads(checkpointed), param_grads(plain), 1e-5)
