"""Domain generalisation through the entry points (docs/domains.md): toy id 8 (source-only on
the plain toy GTA set with MIC's source masking, no target images) trained by
run_experiments.py / tools/train.py; the generated configs of ids 9, 86 and 87."""
import json

import pytest
import torch
from mmcv import Config

import run_experiments
from experiments import generate_experiment_cfgs
from mmseg.apis.checks import check_consistency


@pytest.mark.slow
def test_toy_domain_generalisation_run_trains_without_target_images(tmp_path, toy_data_root):
    work = tmp_path / 'work_dirs'
    roots = {'data.train.data_root': toy_data_root / 'gta',
             'data.val.data_root': toy_data_root / 'cityscapes',
             'data.test.data_root': toy_data_root / 'cityscapes'}
    # 64 px crops of the 128x64 fixture images: the pipeline, not the numbers, is tested.
    options = [f'{k}={v}/' for k, v in roots.items()] + [
        f'model.pretrained={toy_data_root}/mittiny_toygta.pth',
        'data.train.pipeline.2.img_scale=(128,64)', 'data.train.pipeline.3.crop_size=(64,64)',
        'data.train.pipeline.6.size=(64,64)']
    (name, path), = run_experiments.main(['--exp', '8', '--startup-test', '--gen-dir',
                                          str(tmp_path / 'generated'), '--work-dirs', str(work),
                                          '--cfg-options'] + options)
    cfg = Config.fromfile(path)
    assert cfg.data.train.type == 'GTADataset' and cfg.uda.source_only is True
    run_dir = work / 'local-exp8-startup' / name
    json_log, = run_dir.glob('*.log.json')
    lines = [json.loads(line) for line in json_log.read_text().splitlines()[1:]]
    assert [line['iter'] for line in lines] == [1, 2]
    for line in lines:
        losses = {k for k in line if 'loss' in k}
        assert losses == {'decode.loss_seg', 'masked.decode.loss_seg'}, line
        assert all(0 < line[k] < 10 for k in losses)  # finite cross-entropies of 19 classes
    checkpoint = torch.load(run_dir / 'iter_2.pth', map_location='cpu', weights_only=False)
    # No teacher and no ImageNet model: the student alone.
    assert {k.split('.')[0] for k in checkpoint['state_dict']} == {'model'}
    assert checkpoint['meta']['CLASSES'][0] == 'road'
    # The debug figure of iteration 0 has the source panels and the masked image only.
    assert (run_dir / 'debug' / '000000_0.png').is_file()


@pytest.mark.parametrize('exp_id,sources,val_names', [
    (9, 2, ['toycityscapes', 'toygta']),
    (86, 1, ['cityscapes', 'bdd100k', 'mapillary']),
    (87, 4, ['cityscapes', 'bdd100k', 'mapillary'])])
def test_generated_configs_of_several_domains(tmp_path, exp_id, sources, val_names):
    runs = run_experiments.main(['--exp', str(exp_id), '--dry-run', '--gen-dir', str(tmp_path)])
    assert len(runs) == len(generate_experiment_cfgs(exp_id))
    for _, path in runs[::3]:  # the seeds differ only in `seed`
        cfg = Config.fromfile(path)
        source = cfg.data.train.source
        assert len(source) == sources if isinstance(source, list) else sources == 1
        assert [v.name for v in cfg.data.val] == val_names
        assert cfg.data.train.get('target') is None if exp_id == 86 else cfg.data.train.target
        assert cfg.uda.source_only is (exp_id == 86)
        assert cfg.data.train.rare_class_sampling.class_temp == 0.01
        check_consistency(cfg)


@pytest.mark.parametrize('exp_id,encoder,written', [
    (86, 'mitb5', 'gtaHR2dgHR_srconly_mic_hrda.py'),
    (86, 'dinov2vitb14', 'gtaHR2dgHR_srconly_mic_dinov2_vitb14.py'),
    (87, 'mitb5', 'synthHR2csHR_mic_hrda.py')])
def test_configs_dg_are_seed_0_of_their_experiment(tmp_path, repo_root, exp_id, encoder,
                                                     written):
    runs = run_experiments.main(['--exp', str(exp_id), '--dry-run', '--gen-dir', str(tmp_path)])
    path, = [p for name, p in runs if f'_{encoder}_' in name and '_s0_' in name]
    generated = Config.fromfile(path)
    config = Config.fromfile(str(repo_root / 'configs' / 'dg' / written))
    for key in ('model', 'uda', 'optimizer', 'optimizer_config', 'lr_config', 'runner', 'seed',
                'evaluation', 'name_encoder', 'name_uda', 'name_opt'):
        assert generated[key] == config[key], key
    assert generated.data == config.data
