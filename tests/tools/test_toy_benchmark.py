"""The toy benchmark pipeline (docs/toy_benchmark.md): warm start, run_experiments.py --exp 3,
tools/summarize_results.py. Shortened to 2 iterations per run: it checks the pipeline, not the
numbers."""
import json

import pytest
import torch

import run_experiments
from experiments import generate_experiment_cfgs
from tools import summarize_results
from tools.make_toy_pretrained import backbone_state_dict, make_toy_pretrained

TOY_MIT = dict(embed_dims=[16, 32, 64, 128], num_heads=[1, 1, 2, 4], depths=[1, 1, 1, 1],
               sr_ratios=[8, 4, 2, 1])


def _toy_backbone_state():
    from mmseg.models.backbones import MixVisionTransformer
    torch.manual_seed(0)
    return MixVisionTransformer(**TOY_MIT).state_dict()


def test_backbone_state_dict_keeps_only_the_backbone(tmp_path):
    state = _toy_backbone_state()
    checkpoint = {'meta': {'iter': 800},
                  'state_dict': {**{f'backbone.{k}': v for k, v in state.items()},
                                 'decode_head.conv_seg.weight': torch.zeros(19, 64, 1, 1)}}
    torch.save(checkpoint, tmp_path / 'latest.pth')
    backbone = backbone_state_dict(tmp_path / 'latest.pth')
    assert backbone.keys() == state.keys()
    assert all(torch.equal(backbone[k], state[k]) for k in state)
    torch.save({'state_dict': {'decode_head.x': torch.zeros(1)}}, tmp_path / 'head.pth')
    with pytest.raises(ValueError, match='no backbone'):
        backbone_state_dict(tmp_path / 'head.pth')


def test_an_existing_warm_start_is_not_trained_again(tmp_path):
    out = tmp_path / 'w.pth'
    out.write_bytes(b'kept')
    assert make_toy_pretrained(str(out), str(tmp_path / 'work')) == str(out)
    assert out.read_bytes() == b'kept' and not (tmp_path / 'work').exists()


def test_toy_runs_share_the_warm_start_and_the_lower_threshold():
    for exp_id in (1, 2, 3, 4, 7):
        for cfg in generate_experiment_cfgs(exp_id):
            assert cfg['model']['pretrained'] == 'data/toy/mittiny_toygta.pth'
    for exp_id in (2, 3):
        assert {cfg['uda']['pseudo_threshold'] for cfg in generate_experiment_cfgs(exp_id)} \
            == {0.9}
    assert all('uda' not in cfg for exp_id in (1, 4) for cfg in generate_experiment_cfgs(exp_id))
    # The toy ViT cannot take the MiT's weights.
    assert {cfg['model']['pretrained'] for cfg in generate_experiment_cfgs(6)} == {None}


def test_toy_experiment_5_is_experiments_1_to_4():
    names = [cfg['name'] for cfg in generate_experiment_cfgs(5)]
    assert names == [cfg['name'] for exp_id in (1, 2, 3, 4)
                     for cfg in generate_experiment_cfgs(exp_id)]
    assert len(names) == 12


@pytest.mark.slow
def test_shortened_toy_benchmark_pipeline(tmp_path, monkeypatch, capsys):
    """The 3 seeds of toy experiment 3 (MIC; 2 iterations each, evaluated) from a warm start
    file, then the summary table with mean and std over the seeds. (Experiment 5 is 1-4
    together, test above: its 12 runs take the same path.)"""
    from tools.make_toy_data import generate_toy_data
    monkeypatch.chdir(tmp_path)  # the generated configs read data/toy/ from here
    # Full-size images (256x128), enough for every class to reach rare class sampling's
    # min_pixels in some source image.
    generate_toy_data('data/toy', num_source=24, num_target_train=2, num_target_val=2, seed=0)
    torch.save(_toy_backbone_state(), 'data/toy/mittiny_toygta.pth')
    options = ['runner.max_iters=2', 'evaluation.interval=2', 'checkpoint_config.interval=2',
               'lr_config.warmup_iters=1', 'log_config.interval=1']
    runs = run_experiments.main(['--exp', '3', '--gen-dir', 'generated', '--work-dirs',
                                 'work_dirs', '--cfg-options'] + options)
    assert len(runs) == 3
    capsys.readouterr()
    runs, experiments = summarize_results.main(['work_dirs/local-exp3'])
    table = capsys.readouterr().out
    assert len(runs) == 3 and all(r['complete'] and r['iter'] == 2 for r in runs)
    experiment, = experiments
    assert experiment['seeds'] == [0, 1, 2]
    assert '_dacs_rcs001_m16-07-spta_' in experiment['experiment'] and \
        experiment['experiment'] in table
    assert 0 <= experiment['mean'] <= 100 and experiment['std'] is not None
    # Every run logged its validation on toy Cityscapes val (2 images) after iteration 2.
    for log in (tmp_path / 'work_dirs' / 'local-exp3').glob('*/*.log.json'):
        entries = [json.loads(line) for line in log.read_text().splitlines()[1:]]
        assert [e['mode'] for e in entries][-1] == 'val' and 'mIoU' in entries[-1]
