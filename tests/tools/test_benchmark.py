"""tools/benchmark.py: argument handling, config preparation, one tiny iteration (no timing
assertions: the figures depend on the machine)."""
import json
from pathlib import Path

import pytest
import torch
from mmcv.utils import Config

from mmseg.utils import UserInputError
from tools import benchmark

REPO = Path(__file__).resolve().parents[2]
MIC_HRDA = str(REPO / 'configs/mic/gtaHR2csHR_mic_hrda.py')
TOY_MIC = str(REPO / 'configs/toy/toy_gta2cs_mic_daformer.py')


def test_arguments_and_defaults():
    args = benchmark.parse_args([MIC_HRDA])
    assert (args.mode, args.iters, args.warmup, args.device) == ('train', 5, 1, 'cpu')
    assert args.compare is None and args.options is None and args.json_out is None
    args = benchmark.parse_args([MIC_HRDA, '--mode', 'test', '--img-scale', '1024', '512',
                                 '--compare', 'mixed_precision.dtype=bfloat16',
                                 '--cfg-options', 'uda.imnet_feature_dist_lambda=0'])
    assert args.img_scale == [1024, 512]
    assert args.compare == {'mixed_precision.dtype': 'bfloat16'}
    assert args.options == {'uda.imnet_feature_dist_lambda': 0}


@pytest.mark.parametrize('argv', [['--iters', '0'], ['--warmup', '-1'], ['--crop', '8'],
                                  ['--mode', 'eval'], ['--backbone', 'resnet50']])
def test_bad_arguments_exit_with_a_message(argv, capsys):
    with pytest.raises(SystemExit):
        benchmark.parse_args([MIC_HRDA] + argv)
    assert 'error' in capsys.readouterr().err


def test_prepare_config_scales_the_hrda_detail_crop_and_swaps_the_backbone():
    cfg = benchmark.prepare_config(Config.fromfile(MIC_HRDA), backbone='mit_b0', crop=512,
                                   options={'uda.imnet_feature_dist_lambda': 0})
    assert cfg.crop_size == (512, 512)
    assert list(cfg.model.hr_crop_size) == [256, 256]  # 512 of 1024 in the config
    assert cfg.model.backbone == dict(type='mit_b0')
    assert cfg.model.decode_head.in_channels == [32, 64, 160, 256]
    assert cfg.model.pretrained is None and cfg.uda.imnet_feature_dist_lambda == 0
    assert benchmark.test_img_scale(cfg) == (2048, 1024)
    # the original is untouched
    assert Config.fromfile(MIC_HRDA).model.hr_crop_size == (512, 512)


def test_random_train_batch_has_the_config_batch_and_crop():
    cfg = benchmark.prepare_config(Config.fromfile(TOY_MIC), crop=64)
    batch = benchmark.random_train_batch(cfg, torch.device('cpu'))
    assert batch['img'].shape == batch['target_img'].shape == (2, 3, 64, 64)
    assert batch['gt_semantic_seg'].shape == (2, 1, 64, 64)
    assert 0 <= batch['gt_semantic_seg'].min() and batch['gt_semantic_seg'].max() < 19
    assert len(batch['img_metas']) == len(batch['target_img_metas']) == 2


def test_summary_of_known_times():
    summary = benchmark.summarize([3.0, 1.0, 2.0, 10.0], num_images=2, peak_memory_mb=5.0)
    assert summary['median_s'] == 2.5 and summary['min_s'] == 1.0 and summary['max_s'] == 10.0
    assert summary['images_per_s'] == pytest.approx(2 / 2.5)


def test_one_tiny_train_iteration_with_compare_and_json(tmp_path, capsys):
    out = tmp_path / 'bench.json'
    results = benchmark.main([TOY_MIC, '--crop', '64', '--iters', '1', '--warmup', '0',
                              '--compare', 'mixed_precision.dtype=bfloat16',
                              '--json', str(out)])
    captured = capsys.readouterr()
    assert '[train] base iter 1/1' in captured.err
    assert '[train] override iter 1/1' in captured.err
    assert 'ratio override/base' in captured.out
    saved = json.loads(out.read_text())
    assert set(saved['settings']) == {'base', 'override'}
    base = saved['settings']['base']
    assert base['iters'] == 1 and base['median_s'] > 0 and base['peak_memory_mb'] > 0
    assert saved['ratio'] == pytest.approx(
        saved['settings']['override']['median_s'] / base['median_s'])
    assert results['compare'] == {'mixed_precision.dtype': 'bfloat16'}


def test_one_tiny_test_iteration(capsys):
    results = benchmark.main([TOY_MIC, '--mode', 'test', '--img-scale', '96', '64',
                              '--iters', '1', '--warmup', '1'])
    assert results['settings']['base']['iters'] == 1
    assert '[test] base warm-up 1/1' in capsys.readouterr().err


def test_compare_compile_reports_the_compiling_first_iteration(capsys):
    import torch._dynamo
    torch._dynamo.reset()
    try:
        results = benchmark.main([TOY_MIC, '--crop', '64', '--iters', '2', '--warmup', '1',
                                  '--compare', 'compile.backend=eager'])
    finally:
        torch._dynamo.reset()
    captured = capsys.readouterr()
    override, base = results['settings']['override'], results['settings']['base']
    assert override['first_iter_s'] > 0 and base['first_iter_s'] is None
    assert (f"[train] override: the first iteration took {override['first_iter_s']:.3f} s, "
            'torch.compile included (untimed warm-up)') in captured.err
    assert '[train] base: the first iteration' not in captured.err
    assert 'override: ' in captured.out and 'first (compiling) iteration' in captured.out
    # one warm-up iteration covers the compiles of a training step: none while timed
    assert 'compiled during a timed iteration' not in captured.err


def test_compile_needs_a_warm_up_iteration():
    with pytest.raises(UserInputError, match='with compile the first iteration compiles'):
        benchmark.main([TOY_MIC, '--crop', '64', '--iters', '1', '--warmup', '0',
                        '--compare', 'compile=True'])


@pytest.mark.parametrize('argv, message', [
    (['--compare', 'channels_last=3'],
     'override setting (--compare): channels_last must be True or False, got 3'),
    (['--cfg-options', 'channels_last=3'], 'base setting (the config and --cfg-options): '
     'channels_last must be True or False, got 3'),
    (['--mode', 'test', '--img-scale', '0', '0'],
     '--img-scale 0 0: expected a width and a height in pixels, both positive'),
    (['--mode', 'test', '--img-scale', '96', '-4'],
     '--img-scale 96 -4: expected a width and a height in pixels, both positive')])
def test_bad_options_and_sizes_are_refused_in_one_line_as_train_does(argv, message, capsys):
    """The option checks of tools/train.py (check_model_options), before any model is built."""
    from mmseg.utils.errors import run_cli
    with pytest.raises(SystemExit) as exit_info:
        run_cli(benchmark.main, 'benchmark', [TOY_MIC, '--crop', '64', '--iters', '1'] + argv)
    assert exit_info.value.code == 2
    assert capsys.readouterr().err.splitlines() == [f'Cannot benchmark: {message}']


class _FakeCompiledBench:
    """A compiled setting whose steps take 5, 1, 1 s and compile 3, 0, 2 graphs."""
    mode, compiled, num_images, peak_memory_mb = 'train', True, 2, 1.0

    def __init__(self):
        self.times, self.first_iter_s, self.new_graphs = [], None, 0
        self._steps = iter([(5.0, 3), (1.0, 0), (1.0, 2)])

    def step(self):
        seconds, self.new_graphs = next(self._steps)
        if self.first_iter_s is None:
            self.first_iter_s = seconds
        return seconds


def test_a_compile_in_a_timed_iteration_is_reported():
    lines = []
    results = benchmark.run({'override': _FakeCompiledBench()}, iters=2, warmup=1,
                            log=lambda line, **kwargs: lines.append(line))
    assert lines == [
        '[train] override warm-up 1/1: 5.000 s',
        '[train] override: the first iteration took 5.000 s, torch.compile included '
        '(untimed warm-up)',
        '[train] override iter 1/2: 1.000 s',
        '[train] override iter 2/2: 1.000 s',
        '[train] override: 2 graph(s) compiled during a timed iteration: raise --warmup']
    assert results['override']['first_iter_s'] == 5.0
    assert results['override']['median_s'] == 1.0


def test_data_mode_times_the_real_loader_on_toy_data(toy_data_root, tmp_path):
    # no capsys: the datasets create the mmseg logger, whose stream must outlive this test
    out = tmp_path / 'data.json'
    results = benchmark.main([TOY_MIC, '--mode', 'data', '--data-root', str(toy_data_root),
                              '--iters', '2', '--warmup', '1',
                              # the 128x64 toy labels hold too few pixels for min_pixels=100
                              '--cfg-options', 'data.train.rare_class_sampling.min_pixels=0',
                              '--compare', 'data.workers_per_gpu=1', '--json', str(out)])
    assert results['mode'] == 'data'
    line = benchmark._format('base', results['settings']['base'], 'cpu', 'data')
    assert 'samples/s' in line and 'CPU peak RSS' in line
    saved = json.loads(out.read_text())
    for name in ('base', 'override'):
        summary = saved['settings'][name]
        assert summary['iters'] == 2 and summary['images_per_s'] > 0
    assert saved['environment']['torch'] == torch.__version__
    cfg = benchmark.prepare_data_config(Config.fromfile(TOY_MIC), str(toy_data_root))
    assert cfg.data.train.source.data_root == str(toy_data_root / 'gta')
    assert cfg.data.train.target.data_root == str(toy_data_root / 'cityscapes')


def test_data_mode_without_the_data_names_the_missing_folder(tmp_path):
    with pytest.raises(Exception, match=str(tmp_path / 'gta')):
        benchmark.main([TOY_MIC, '--mode', 'data', '--data-root', str(tmp_path)])


def test_profile_prints_and_keeps_the_top_ops(tmp_path, capsys):
    out = tmp_path / 'profile.json'
    benchmark.main([TOY_MIC, '--mode', 'test', '--img-scale', '64', '64', '--iters', '1',
                    '--warmup', '0', '--profile', '5', '--json', str(out)])
    captured = capsys.readouterr()
    assert 'profile of one test iteration, base setting:' in captured.out
    assert 'Self CPU' in captured.out
    rows = json.loads(out.read_text())['settings']['base']['profile']
    assert len(rows) == 5 and all(r['calls'] >= 1 and r['self_cpu_ms'] >= 0 for r in rows)
    assert rows[0]['self_cpu_ms'] >= rows[-1]['self_cpu_ms']  # largest self time first


@pytest.mark.parametrize('argv', [['--profile', '0'], ['--mode', 'data', '--profile'],
                                  ['--data-root', 'x']])
def test_bad_profile_and_data_arguments(argv, capsys):
    with pytest.raises(SystemExit):
        benchmark.parse_args([TOY_MIC] + argv)
    assert 'error' in capsys.readouterr().err
