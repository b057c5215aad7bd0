"""The "Custom dataset" example (docs/dataset_prepare.md, or the README while it still has the
section) runs as written: register, configure, build, evaluate."""
import re
import sys

import cv2
import numpy as np
from mmcv import Config


def _readme_blocks(repo_root):
    text = (repo_root / 'docs' / 'dataset_prepare.md').read_text()
    if '## Custom dataset' not in text:
        text = (repo_root / 'README.md').read_text()
    section = text.split('## Custom dataset', 1)[1].split('\n## ', 1)[0]
    return re.findall(r'```python\n(.*?)```', section, flags=re.S)


def test_readme_custom_dataset_example(repo_root, tmp_path, monkeypatch):
    module_src, config_src = _readme_blocks(repo_root)
    pkg = tmp_path / 'my_project'
    pkg.mkdir()
    (pkg / '__init__.py').write_text('')
    (pkg / 'my_dataset.py').write_text(module_src)

    root = tmp_path / 'data' / 'my_streets'
    (root / 'images' / 'val').mkdir(parents=True)
    (root / 'masks' / 'val').mkdir(parents=True)
    rng = np.random.RandomState(0)
    labels = []
    for i in range(2):
        label = rng.randint(0, 3, size=(32, 48)).astype(np.uint8)
        label[0, :4] = 255
        cv2.imwrite(str(root / 'images' / 'val' / f'f{i}.jpg'),
                    rng.randint(0, 255, (32, 48, 3)).astype(np.uint8))
        cv2.imwrite(str(root / 'masks' / 'val' / f'f{i}_mask.png'), label)
        labels.append(label)

    test_pipeline = ("test_pipeline = [dict(type='LoadImageFromFile'), dict(type='MultiScaleFlipAug', "
                     "img_scale=(48, 32), flip=False, transforms=[dict(type='Resize', keep_ratio=True), "
                     "dict(type='ImageToTensor', keys=['img']), dict(type='Collect', keys=['img'])])]\n")
    cfg_file = tmp_path / 'my_config.py'
    cfg_file.write_text(test_pipeline + config_src.replace("'data/my_streets'", repr(str(root))))
    monkeypatch.syspath_prepend(str(tmp_path))
    sys.modules.pop('my_project', None)
    cfg = Config.fromfile(str(cfg_file))  # imports my_project.my_dataset through custom_imports

    from mmseg.datasets import DATASETS, build_dataset
    dataset = build_dataset(cfg.data.val)
    assert type(dataset) is DATASETS.get('MyStreetDataset')
    assert dataset.CLASSES == ('road', 'car', 'sky')
    assert len(dataset) == 2
    sample = dataset[0]
    assert tuple(sample['img'][0].shape[-2:]) == (32, 48)

    # perfect predictions score 1; a prediction that misses every 'car' pixel scores IoU 0 there.
    assert abs(dataset.evaluate(labels, metric='mIoU')['mIoU'] - 1.0) < 1e-6
    no_car = [np.where(lbl == 1, 0, lbl) for lbl in labels]
    res = dataset.evaluate(no_car, metric='mIoU')
    assert res['IoU.car'] == 0.0 and res['IoU.sky'] == 1.0
