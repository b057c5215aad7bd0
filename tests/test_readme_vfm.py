"""docs/config.md's "Foundation-model encoders" switch example turns MIC(HRDA) into a ViT run."""
import re

import torch
from mmcv import Config


def test_readme_switch_example_builds_mic_hrda_with_a_vit(repo_root, tmp_path):
    text = (repo_root / 'docs' / 'config.md').read_text()
    section = text.split('## Foundation-model encoders', 1)[1].split('\n## ', 1)[0]
    config_src, = re.findall(r'```python\n(.*?)```', section, flags=re.S)
    base = repr(str(repo_root / 'configs' / 'mic' / 'gtaHR2csHR_mic_hrda.py'))
    path = tmp_path / 'mic_hrda_dinov2.py'
    path.write_text(config_src.replace("'../mic/gtaHR2csHR_mic_hrda.py'", base))
    cfg = Config.fromfile(str(path))
    assert cfg.model.type == 'HRDAEncoderDecoder' and cfg.model.pretrained is None
    assert cfg.model.backbone.type == 'TIMMBackbone' and 'embed_dims' not in cfg.model.backbone
    assert cfg.model.decode_head.type == 'HRDAHead'
    # A 4-block version of the same ViT without a weights file, to build cheaply.
    cfg.model.backbone.update(checkpoint_path=None, embed_dim=32, depth=4, num_heads=2,
                              out_indices=[0, 1, 2, 3])
    cfg.model.neck.in_channels = [32] * 4
    from mmseg.models import build_train_model
    torch.manual_seed(0)
    model = build_train_model(cfg)
    keys = model.state_dict().keys()
    for prefix in ('model.', 'ema_model.', 'imnet_model.'):  # feature distance stays on
        assert f'{prefix}backbone.timm_model.blocks.3.attn.qkv.weight' in keys
        assert f'{prefix}neck.convs.0.conv.weight' in keys
    segmentor = model.get_model().eval()
    with torch.no_grad():
        features = segmentor.extract_feat(torch.randn(1, 3, 128, 128))  # 0.5-scale context
    assert [tuple(f.shape) for f in features] == [(1, 256, 16, 16), (1, 256, 8, 8),
                                                  (1, 256, 4, 4), (1, 256, 2, 2)]
