"""Every entry point, run as a user runs it, ends bad input with one line on stderr:
``Cannot <verb>: <what is wrong>``, exit status 2, no traceback (mmseg.utils.errors.run_cli).

Each command line runs in its own process, forked by tests/tools/cli_fork_runner.py after it
imported torch, mmcv and mmseg once (a fresh Python start with torch costs seconds a command);
the script runs as ``__main__`` with the command's argv, as ``python script ...`` runs it.
(tests/tools/test_convert_datasets.py and test_train_test_cli.py start real interpreters too.)
"""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from test_train_test_cli import TINY_CONFIG

REPO = Path(__file__).resolve().parents[2]
README_HOOKS = "log_config.hooks=[dict(type='TextLoggerHook', by_epoch=False)]"
TOY_CONFIG = 'configs/toy/toy_gta2cs_mic_daformer.py'


def _cases(tmp, toy_root):
    """{name: (argv after the Python executable, cwd, the expected stderr line's start)}."""
    config = tmp / 'tiny.py'
    config.write_text(TINY_CONFIG.replace('{root}', str(toy_root)))
    notes = tmp / 'notes.txt'
    notes.write_text('iter 4000: mIoU 0.61\n')
    empty = tmp / 'empty'
    empty.mkdir()
    nowhere = tmp / 'nowhere'
    return {
        # The README's hooks value parses (mmcv's DictAction: RecursionError), then the item
        # without '=' stops the run.
        'train --cfg-options': (
            ['tools/train.py', TOY_CONFIG, '--cfg-options', README_HOOKS, 'uda.mask_lambda'],
            REPO, 'Cannot train: --cfg-options uda.mask_lambda: expected KEY=VALUE'),
        'train text checkpoint': (
            ['tools/train.py', str(config), '--work-dir', str(tmp / 'run'), '--load-from',
             str(notes)],
            REPO, f'Cannot train: {notes} is not a PyTorch checkpoint'),
        # a config value refused before the work_dir (mmseg/apis/config_values.py)
        'train save_best': (
            ['tools/train.py', str(config), '--work-dir', str(tmp / 'best'), '--cfg-options',
             'evaluation.save_best=mDice'],
            REPO, "Cannot train: evaluation.save_best = 'mDice' is not a key the evaluation "
            "(metric='mIoU') logs"),
        'test': (['tools/test.py', str(tmp / 'absent.py'), str(notes), '--eval', 'mIoU'], REPO,
                 f'Cannot test: config file {tmp / "absent.py"} not found'),
        'run_experiments': (['run_experiments.py', '--config', str(tmp / 'absent.py')], REPO,
                            f'Cannot train: config file {tmp / "absent.py"} not found'),
        'benchmark': (['tools/benchmark.py', str(tmp / 'absent.py')], REPO,
                      f'Cannot benchmark: config file {tmp / "absent.py"} not found'),
        'demo': (['tools/demo.py', '--work-dir', str(notes)], REPO,
                 f'Cannot run the demo: --work-dir {notes} exists and is not a folder'),
        'image_demo': (['demo/image_demo.py', str(empty), str(config), str(notes)], REPO,
                       'Cannot predict: no images (.png'),
        'make_toy_data': (['tools/make_toy_data.py', '--out', str(tmp / 'toy'),
                           '--num-source', '0'], REPO,
                          'Cannot make the toy data: num_source must be an integer >= 1, got 0'),
        'make_toy_pretrained': ([str(REPO / 'tools/make_toy_pretrained.py'), '--out', 'w.pth'],
                                empty, 'Cannot make the toy warm start: data/toy/gta/'),
        'summarize_results': (['tools/summarize_results.py', str(nowhere)], REPO,
                              f'Cannot summarize: {nowhere} is not a folder'),
        'plot_curves': (['tools/plot_curves.py', str(nowhere)], REPO,
                        f'Cannot plot: {nowhere} not found'),
        'convert cityscapes': (['tools/convert_datasets/cityscapes.py', str(nowhere)], REPO,
                               f'Cannot convert: {nowhere / "gtFine"} not found'),
        'convert gta': (['tools/convert_datasets/gta.py', str(nowhere)], REPO,
                        f'Cannot convert: {nowhere / "labels"} not found'),
        'convert synthia': (['tools/convert_datasets/synthia.py', str(nowhere)], REPO,
                            f'Cannot convert: {nowhere / "GT" / "LABELS"} not found'),
        'convert mapillary': (['tools/convert_datasets/mapillary.py', str(nowhere)], REPO,
                              f'Cannot convert: {nowhere / "training" / "v1.2" / "labels"} and '),
        'convert wilddash2': (['tools/convert_datasets/wilddash2.py', str(nowhere)], REPO,
                              f'Cannot convert: {nowhere / "panoptic.json"} not found'),
        'convert synscapes': (['tools/convert_datasets/synscapes.py', str(nowhere)], REPO,
                              f'Cannot convert: {nowhere / "img" / "class"} not found'),
        'convert urbansyn': (['tools/convert_datasets/urbansyn.py', str(nowhere)], REPO,
                             f'Cannot convert: {nowhere / "ss"} not found'),
        'convert foggy_driving': (['tools/convert_datasets/foggy_driving.py', str(nowhere)], REPO,
                                  f'Cannot convert: {nowhere / "gtFine" / "test"} and '),
        'convert bdd100k': (['tools/convert_datasets/bdd100k.py', str(nowhere)], REPO,
                            f'Cannot convert: {nowhere / "labels" / "sem_seg" / "masks" / "train"} '
                            'not found'),
        'make_toy_data --dataset': (['tools/make_toy_data.py', '--dataset', 'kitti', '--out',
                                     str(tmp / 'toy_kitti')], REPO,
                                    "Cannot make the toy data: unknown toy dataset 'kitti'"),
        'convert dinov2': (['tools/convert_weights/dinov2_hf2timm.py', str(nowhere),
                            str(tmp / 'out.pth')], REPO, f'Cannot convert: {nowhere} not found'),
    }


@pytest.fixture(scope='module')
def cli_runs(toy_data_root, tmp_path_factory):
    """(cases, {name: dict(returncode, stdout, stderr)}) of every case and the small-set run."""
    tmp = tmp_path_factory.mktemp('cli_errors')
    cases = _cases(tmp, toy_data_root)
    runs = {name: dict(argv=argv, cwd=str(cwd)) for name, (argv, cwd, _) in cases.items()}
    runs['small training set'] = dict(
        argv=['tools/train.py', str(tmp / 'tiny.py'), '--work-dir', str(tmp / 'small'),
              '--cfg-options', 'data.samples_per_gpu=7'], cwd=str(REPO))
    (tmp / 'cases.json').write_text(json.dumps(runs))
    env = dict(os.environ, OMP_NUM_THREADS='1', PYTHONPATH=str(REPO))
    env.pop('MICSEG_TRACEBACK', None)  # tests/utils/test_errors.py checks it
    driver = subprocess.run([sys.executable, str(REPO / 'tests/tools/cli_fork_runner.py'),
                             str(tmp / 'cases.json'), str(tmp / 'results.json')], cwd=REPO,
                            env=env, capture_output=True, text=True, timeout=600)
    assert driver.returncode == 0, driver.stderr[-5000:]
    return cases, json.loads((tmp / 'results.json').read_text())


CASE_NAMES = ['train --cfg-options', 'train text checkpoint', 'train save_best', 'test',
              'run_experiments', 'benchmark', 'demo', 'image_demo', 'make_toy_data',
              'make_toy_pretrained', 'summarize_results', 'plot_curves', 'convert cityscapes',
              'convert gta', 'convert synthia', 'convert mapillary', 'convert wilddash2',
              'convert synscapes', 'convert urbansyn', 'convert foggy_driving', 'convert bdd100k',
              'make_toy_data --dataset', 'convert dinov2']


@pytest.mark.slow
@pytest.mark.parametrize('name', CASE_NAMES)
def test_bad_input_ends_in_one_line_with_exit_status_2(cli_runs, name):
    cases, results = cli_runs
    assert sorted(CASE_NAMES) == sorted(cases)
    out = results[name]
    assert out['returncode'] == 2, f"{name}: {out['returncode']}\n{out['stderr'][-3000:]}"
    assert 'Traceback' not in out['stderr']
    lines = out['stderr'].splitlines()
    assert len(lines) == 1 and out['stderr'].endswith('\n'), out['stderr'][-3000:]
    assert lines[0].startswith(cases[name][2]), lines[0]
    if name == 'train save_best':  # refused before the work_dir is made
        assert not Path(cases[name][0][3]).exists()


@pytest.mark.slow
def test_training_set_smaller_than_a_batch_ends_with_one_line_after_the_logs(cli_runs):
    """Found when training starts (the logs are on stderr before it): the last line says it."""
    out = cli_runs[1]['small training set']
    assert out['returncode'] == 2 and 'Traceback' not in out['stderr'], out['stderr'][-3000:]
    last = out['stderr'].splitlines()[-1]
    assert last.startswith('Cannot train: the training set (')
    assert 'has 6 samples, fewer than one batch of data.samples_per_gpu x GPUs = 7' in last
