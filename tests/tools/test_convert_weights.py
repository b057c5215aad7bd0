"""tools/convert_weights/dinov2_hf2timm.py: a HuggingFace DINOv2 folder -> timm .pth."""
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from mmseg.models import build_backbone

transformers = pytest.importorskip('transformers')  # test-only dependency
REPO = Path(__file__).resolve().parents[2]
TOOL = REPO / 'tools' / 'convert_weights' / 'dinov2_hf2timm.py'
SMALL = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=128,
             image_size=56, patch_size=14)
TINY_TIMM = dict(embed_dim=32, depth=2, num_heads=2, img_size=56)


def run_tool(*args):
    return subprocess.run([sys.executable, str(TOOL), *map(str, args)], cwd=REPO,
                          capture_output=True, text=True, timeout=300)


@pytest.mark.slow
def test_converts_a_saved_hf_model_folder(tmp_path):
    torch.manual_seed(0)
    model = transformers.Dinov2Model(transformers.Dinov2Config(**SMALL)).eval()
    model.save_pretrained(tmp_path / 'dinov2-tiny')  # model.safetensors + config.json
    out = run_tool(tmp_path / 'dinov2-tiny', tmp_path / 'out' / 'dinov2_tiny.pth')
    assert out.returncode == 0, out.stderr
    # cls, pos, patch w/b (mask token dropped) + 2 blocks x 14 (norm1, qkv, proj, norm2, fc1, fc2
    # weight + bias, ls1, ls2) + final norm w/b
    assert 'wrote 34 tensors' in out.stdout
    state_dict = torch.load(tmp_path / 'out' / 'dinov2_tiny.pth', weights_only=True)
    assert 'blocks.1.attn.qkv.weight' in state_dict and 'mask_token' not in state_dict
    backbone = build_backbone(dict(
        type='TIMMBackbone', model_name='vit_small_patch14_dinov2', out_indices=[-1], norm=True,
        checkpoint_path=str(tmp_path / 'out' / 'dinov2_tiny.pth'), **TINY_TIMM)).eval()
    x = torch.randn(1, 3, 56, 56)
    with torch.no_grad():
        expected = model(pixel_values=x).last_hidden_state[:, 1:].transpose(1, 2)
        torch.testing.assert_close(backbone(x)[0].flatten(2), expected, atol=1e-4, rtol=0)


@pytest.mark.slow
def test_model_check_lists_keys_and_writes_nothing(tmp_path, capsys, monkeypatch):
    # The tool's main in this process (the command line itself is run by the test above).
    from mmseg.utils import UserInputError, run_cli
    from tools.convert_weights.dinov2_hf2timm import main
    monkeypatch.delenv('MICSEG_TRACEBACK', raising=False)
    torch.manual_seed(0)
    transformers.Dinov2Model(transformers.Dinov2Config(**SMALL)).save_pretrained(tmp_path / 'm')
    argv = [str(tmp_path / 'm'), str(tmp_path / 'x.pth'), '--model-name', 'vit_small_patch14_dinov2']
    with pytest.raises(UserInputError):
        main(argv)
    capsys.readouterr()  # the progress bar of save_pretrained
    with pytest.raises(SystemExit) as info:
        run_cli(main, 'convert', argv)
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith('Cannot convert: ') and err.count('\n') == 1
    assert 'shape mismatches' in err and 'missing keys: blocks.10' in err
    assert not (tmp_path / 'x.pth').exists()
    with pytest.raises(FileNotFoundError, match='empty_folder_missing not found'):
        main([str(tmp_path / 'empty_folder_missing'), str(tmp_path / 'x.pth')])
