"""tools/summarize_results.py and tools/plot_curves.py on a work_dirs tree of hand-made logs."""
import json

import numpy as np
import pytest
from PIL import Image

from tools import plot_curves, summarize_results
from tools.summarize_results import CLASSES


def write_log(run_dir, entries, name='20260101_120000.log.json'):
    run_dir.mkdir(parents=True, exist_ok=True)
    header = {'env_info': 'cpu', 'seed': 0, 'exp_name': 'x.py'}
    with open(run_dir / name, 'w') as f:
        for entry in [header] + entries:
            f.write(json.dumps(entry) + '\n')


def train_entry(it, loss):
    return {'mode': 'train', 'epoch': 1, 'iter': it, 'lr': 6e-5, 'decode.loss_seg': loss,
            'decode.acc_seg': 50.0, 'mix.decode.loss_seg': loss / 2, 'time': 0.1}


def val_entry(miou, **per_class):
    # mmcv writes the number of validation images (here 20) as `iter` of val entries
    entry = {'mode': 'val', 'epoch': 1, 'iter': 20, 'lr': 6e-5, 'aAcc': 0.9, 'mIoU': miou,
             'mAcc': 0.8}
    entry.update({f'IoU.{c}': v for c, v in per_class.items()})
    return entry


@pytest.fixture
def work_dirs(tmp_path):
    root = tmp_path / 'local-exp80'
    # GTA experiment, seeds 0-2: an early and a final evaluation each; the final one counts.
    for seed, final in zip((0, 1, 2), (0.70, 0.72, 0.74)):
        write_log(root / f'260101_1200_gta2cs_dacs_m32-07-spta_s{seed}_a1b2{seed}',
                  [train_entry(10, 2.0), val_entry(0.10), train_entry(30, 1.0),
                   val_entry(final)])
    # Synthia with per-class IoUs: 16 classes at 0.5 and 0.6, the 3 classes without labels at 0.
    for seed, value in ((0, 0.5), (1, 0.6)):
        per_class = {c: (0.0 if c in ('terrain', 'truck', 'train') else value) for c in CLASSES}
        write_log(root / f'260101_1200_synHR2csHR_hrda_s{seed}_0000{seed}',
                  [train_entry(40, 1.0), val_entry(16 * value / 19, **per_class)])
    # Synthia with only mIoU logged.
    write_log(root / '260101_1200_syn2cs_dacs_s0_fffff', [val_entry(0.48)])
    # A run that crashed before its first evaluation.
    write_log(root / '260101_1200_gta2cs_crashed_s0_00000', [train_entry(10, 2.0)])
    return root


def test_summarize_groups_seeds_and_takes_last_val(work_dirs):
    runs, experiments = summarize_results.summarize(str(work_dirs))
    assert len(runs) == 7
    by_exp = {e['experiment']: e for e in experiments}
    # The crashed run has no result and forms no experiment row.
    assert set(by_exp) == {'gta2cs_dacs_m32-07-spta', 'synHR2csHR_hrda', 'syn2cs_dacs'}
    gta = by_exp['gta2cs_dacs_m32-07-spta']
    assert gta['seeds'] == [0, 1, 2]
    # mean of 70, 72, 74 and their sample standard deviation sqrt((4 + 0 + 4) / 2) = 2
    assert gta['mean'] == pytest.approx(72.0)
    assert gta['std'] == pytest.approx(2.0)
    assert gta['mean16'] is None
    crashed = [r for r in runs if 'crashed' in r['run']][0]
    assert crashed['miou'] is None
    # the training iteration of the final evaluation is that of the train entry before it
    assert {r['iter'] for r in runs if r['experiment'] == 'gta2cs_dacs_m32-07-spta'} == {30}


def test_miou16_from_classes_and_from_scaling(work_dirs):
    runs, experiments = summarize_results.summarize(str(work_dirs))
    by_exp = {e['experiment']: e for e in experiments}
    hr = by_exp['synHR2csHR_hrda']
    # Per-class route: the 16 labelled classes are at 50 and 60 -> mean 55, std sqrt(50)
    assert hr['mean16'] == pytest.approx(55.0)
    assert hr['std16'] == pytest.approx(np.sqrt(50.0))
    # mIoU19 = 16 * v / 19 for each
    assert hr['mean'] == pytest.approx(100 * 16 * 0.55 / 19)
    srun = [r for r in runs if r['experiment'] == 'syn2cs_dacs'][0]
    assert srun['miou16_from'] == 'x19/16'
    assert srun['miou16'] == pytest.approx(48.0 * 19 / 16)
    assert by_exp['syn2cs_dacs']['std'] is None  # one seed


def test_split_run_name():
    assert summarize_results.split_run_name('260101_1200_gta2cs_x_s2_abc12') == ('gta2cs_x', 2)
    assert summarize_results.split_run_name('gta2cs_x_s10') == ('gta2cs_x', 10)
    assert summarize_results.split_run_name('demo') == ('demo', None)


def test_summarize_cli_prints_tables(work_dirs, capsys, tmp_path):
    csv = tmp_path / 'r.csv'
    summarize_results.main([str(work_dirs), '--csv', str(csv)])
    out = capsys.readouterr().out
    assert '72.00 ± 2.00' in out
    assert 'no val entry' in out
    assert 'x19/16' in out and '(classes)' in out
    lines = csv.read_text().splitlines()
    assert lines[0] == 'experiment,n,mean,std,mean16,std16,incomplete'
    assert len(lines) == 4


def test_summarize_missing_folder_names_it(tmp_path):
    with pytest.raises(FileNotFoundError, match='nowhere'):
        summarize_results.summarize(str(tmp_path / 'nowhere'))


def test_plot_curves_writes_png(work_dirs, tmp_path):
    out = tmp_path / 'curves.png'
    runs = sorted(p for p in work_dirs.iterdir() if 'gta2cs_dacs' in p.name)
    plotted = plot_curves.plot_curves([str(p) for p in runs], str(out))
    train, val = plot_curves.load_log(str(runs[0]))
    assert [e['iter'] for e in train] == [10, 30]
    assert [(e['train_iter'], e['mIoU']) for e in val] == [(10, 0.10), (30, 0.70)]
    assert plotted == ['decode.loss_seg', 'mIoU', 'mix.decode.loss_seg']
    with Image.open(out) as img:
        assert img.format == 'PNG'
        assert img.size == (900, 800)  # figsize 9x8 inches at 100 dpi


def test_plot_curves_selected_keys_and_errors(work_dirs, tmp_path):
    run = next(p for p in work_dirs.iterdir() if 'gta2cs_dacs' in p.name)
    out = tmp_path / 'c.png'
    plot_curves.main([str(run / '20260101_120000.log.json'), '--keys', 'decode.loss_seg',
                      '--out', str(out)])
    assert out.stat().st_size > 1000
    with pytest.raises(FileNotFoundError, match='missing_run'):
        plot_curves.plot_curves([str(tmp_path / 'missing_run')], str(out))


def test_incomplete_run_is_marked_and_left_out_of_mean_and_std(tmp_path, capsys):
    """Three seeds planned for 400 iterations; seed 2 stopped at 160 (after an evaluation)."""
    root = tmp_path / 'local-exp1'
    for seed, last_iter, miou in ((0, 400, 0.20), (1, 400, 0.30), (2, 160, 0.90)):
        run = root / f'260101_1200_toygta2toycs_source-only_s{seed}_abcd{seed}'
        write_log(run, [train_entry(last_iter, 1.0), val_entry(miou)])
        (run / f'{run.name}.py').write_text(
            "runner = dict(type='IterBasedRunner', max_iters=400)\nseed = 0\n")
    runs, experiments = summarize_results.summarize(str(root))
    by_seed = {r['seed']: r for r in runs}
    assert [by_seed[s]['complete'] for s in (0, 1, 2)] == [True, True, False]
    assert (by_seed[2]['reached'], by_seed[2]['max_iters']) == (160, 400)
    exp, = experiments
    # By hand over the complete seeds only: mean(20, 30) = 25, sample std = 7.0711.
    assert exp['seeds'] == [0, 1] and exp['incomplete'] == 1
    assert exp['mean'] == pytest.approx(25.0) and exp['std'] == pytest.approx(50 ** 0.5)
    summarize_results.main([str(root)])
    out = capsys.readouterr().out
    assert 'INCOMPLETE: iteration 160 of 400' in out
    assert '1 incomplete run(s) (marked INCOMPLETE above) are left out of mean ± std.' in out


def test_checkpoint_counts_as_progress(tmp_path):
    run = tmp_path / 'run_s0'
    write_log(run, [train_entry(50, 1.0)])
    (run / 'iter_100.pth').write_bytes(b'')
    (run / 'run.py').write_text("runner = dict(type='IterBasedRunner', max_iters=100)\n")
    assert summarize_results.read_progress(str(run)) == (100, 100)


def test_plot_curves_names_runs_by_folder_one_colour_per_run(work_dirs, tmp_path, monkeypatch,
                                                             capsys):
    runs = sorted(p for p in work_dirs.iterdir() if 'gta2cs_dacs' in p.name)[:2]
    figures = []
    monkeypatch.setattr(plot_curves.plt, 'close', figures.append)
    monkeypatch.chdir(tmp_path)
    plot_curves.main([str(r / '20260101_120000.log.json') for r in runs])
    fig, = figures
    ax_loss, ax_miou = fig.axes
    for ax in (ax_loss, ax_miou):
        for line in ax.get_lines():
            assert '20260101' not in line.get_label()
    for run in runs:
        loss_lines = [ln for ln in ax_loss.get_lines() if ln.get_label().startswith(run.name)]
        miou_line, = [ln for ln in ax_miou.get_lines() if ln.get_label() == run.name]
        assert len(loss_lines) == 2  # decode.loss_seg and mix.decode.loss_seg
        assert {ln.get_color() for ln in loss_lines} == {miou_line.get_color()}
    colours = {ln.get_color() for ln in ax_miou.get_lines()}
    assert len(colours) == 2
    assert f'written to {tmp_path / "curves.png"}' in capsys.readouterr().out
    assert (tmp_path / 'curves.png').is_file()


def test_run_whose_final_evaluation_failed_is_marked_and_left_out(tmp_path, capsys):
    """tools/train.py logs a failed evaluation as a val entry with eval_failed: the mIoU
    before it is not the finished run's result."""
    root = tmp_path / 'local-exp1'
    failed = {'mode': 'val', 'epoch': 1, 'iter': 400, 'lr': 6e-5,
              'eval_failed': 'ValueError: cannot decode the image file x.png'}
    for seed, entries in ((0, [val_entry(0.2), train_entry(400, 1.0), val_entry(0.3)]),
                          (1, [val_entry(0.4), train_entry(400, 1.0), val_entry(0.5)]),
                          (2, [val_entry(0.9), train_entry(400, 1.0), failed])):
        run = root / f'260101_1200_toy_s{seed}_abcd{seed}'
        write_log(run, [train_entry(200, 1.0)] + entries)
        (run / f'{run.name}.py').write_text(
            "runner = dict(type='IterBasedRunner', max_iters=400)\n")
    runs, (exp, ) = summarize_results.summarize(str(root))
    assert [r['complete'] for r in runs] == [True, True, False]
    assert exp['seeds'] == [0, 1] and exp['mean'] == pytest.approx(40.0)
    summarize_results.main([str(root)])
    out = capsys.readouterr().out
    assert ('FINAL EVALUATION FAILED at iteration 400 (ValueError: cannot decode the image file '
            'x.png)') in out
    assert '1 run(s) whose last mIoU is not their result' in out


def test_folder_restarted_from_scratch_over_a_finished_run_is_marked(tmp_path):
    """Issue #19: the same command again into a finished work_dir trained 2 iterations from
    scratch and pointed latest.pth at them; the old logs still reached max_iters."""
    run = tmp_path / 'runs' / '260101_1200_toy_s0_abcd0'
    write_log(run, [train_entry(400, 1.0), val_entry(0.5)], name='20260101_120000.log.json')
    write_log(run, [train_entry(2, 3.0)], name='20260102_120000.log.json')
    (run / 'iter_400.pth').write_bytes(b'')
    (run / 'iter_2.pth').write_bytes(b'')
    (run / 'latest.pth').symlink_to('iter_2.pth')
    (run / f'{run.name}.py').write_text("runner = dict(type='IterBasedRunner', max_iters=400)\n")
    (row, ), (exp, ) = summarize_results.summarize(str(tmp_path / 'runs'))
    assert row['complete'] is False and exp['n'] == 0 and exp['incomplete'] == 1
    assert row['problem'] == 'RESTARTED: latest.pth is iteration 2, the folder also holds ' \
                             'iteration 400'


def test_runs_of_several_targets_get_a_column_each(tmp_path, capsys):
    root = tmp_path / 'runs'
    # gta -> (cityscapes, acdc), seeds 0 and 1; mIoU is the mean the evaluation hook logs
    targets = {0: (0.60, 0.40), 1: (0.64, 0.30)}
    for seed, (cs, acdc) in targets.items():
        entry = val_entry((cs + acdc) / 2)
        entry.update({'cityscapes/mIoU': cs, 'cityscapes/IoU.road': 0.9, 'acdc/mIoU': acdc,
                      'acdc/aAcc': 0.7})
        write_log(root / f'260101_1200_gta2multi_s{seed}_0000{seed}', [train_entry(10, 1.0),
                                                                      entry])
    # a single-target run in the same tree; its Cityscapes evaluator key is no target
    single = val_entry(0.55)
    single['cityscapes/mIoU'] = 0.56
    write_log(root / '260101_1200_gta2cs_s0_00000', [train_entry(10, 1.0), single])
    runs, experiments = summarize_results.summarize(str(root))
    by_run = {r['experiment'] + str(r['seed']): r for r in runs}
    assert by_run['gta2multi0']['targets'] == pytest.approx(dict(cityscapes=60.0, acdc=40.0))
    assert list(by_run['gta2multi1']['targets']) == ['cityscapes', 'acdc']
    assert by_run['gta2cs0']['targets'] == {}
    by_exp = {e['experiment']: e for e in experiments}
    multi = by_exp['gta2multi']
    assert multi['mean'] == pytest.approx((50.0 + 47.0) / 2)
    # per target: mean over the seeds and the sample std (two values: |a - b| / sqrt(2))
    assert multi['targets']['cityscapes'] == pytest.approx((62.0, 4.0 / np.sqrt(2)))
    assert multi['targets']['acdc'] == pytest.approx((35.0, 10.0 / np.sqrt(2)))
    assert by_exp['gta2cs']['targets'] == {}
    csv = tmp_path / 'r.csv'
    summarize_results.main([str(root), '--csv', str(csv)])
    out = capsys.readouterr().out
    header = [c.strip() for c in out.splitlines()[2].strip('|').split('|')]
    assert header == ['run', 'seed', 'iter', 'mIoU', 'cityscapes mIoU', 'acdc mIoU', 'mIoU16',
                      'status']
    row = [c.strip() for c in next(line for line in out.splitlines()
                                   if 'gta2multi_s1' in line).strip('|').split('|')]
    assert row[3:6] == ['47.00', '64.00', '30.00']
    single_row = [c.strip() for c in next(line for line in out.splitlines()
                                          if 'gta2cs_s0' in line).strip('|').split('|')]
    assert single_row[3:6] == ['55.00', '-', '-']
    assert '62.00 ± 2.83' in out and '35.00 ± 7.07' in out
    lines = csv.read_text().splitlines()
    assert lines[0] == ('experiment,n,mean,std,mean16,std16,incomplete,mean_cityscapes,'
                        'std_cityscapes,mean_acdc,std_acdc')
    single_csv, multi_csv = (line.split(',') for line in lines[1:])
    assert single_csv[0] == 'gta2cs' and single_csv[7:] == ['', '', '', '']
    assert multi_csv[0] == 'gta2multi'
    assert [float(v) for v in multi_csv[7:]] == pytest.approx(  # the CSV has 4 decimals
        [62.0, 4.0 / np.sqrt(2), 35.0, 10.0 / np.sqrt(2)], abs=5e-5)


def test_summarize_csv_in_a_missing_folder_is_refused_before_printing(work_dirs, tmp_path,
                                                                      capsys):
    from mmseg.utils.errors import run_cli
    csv = tmp_path / 'nonexist' / 'x.csv'
    with pytest.raises(SystemExit) as exit_info:
        run_cli(summarize_results.main, 'summarize', [str(work_dirs), '--csv', str(csv)])
    assert exit_info.value.code == 2
    captured = capsys.readouterr()
    assert 'Runs' not in captured.out  # nothing printed before the error
    message, = [line for line in captured.err.splitlines() if line]
    assert f"{tmp_path / 'nonexist'} does not exist" in message


def test_summarize_csv_rounds_and_iter_comes_from_the_checkpoint(tmp_path, capsys):
    """Seeds 0.57 and 0.58: mean 57.5 (57.49999999999999 in floats), sample std
    sqrt(0.5) = 0.7071; no train line (log interval > max_iters): iter from iter_8.pth."""
    root = tmp_path / 'local-exp1'
    for seed, miou in ((0, 0.57), (1, 0.58)):
        run = root / f'260101_1200_toygta2toycs_source-only_s{seed}_abcd{seed}'
        write_log(run, [val_entry(miou)])
        (run / 'iter_8.pth').write_bytes(b'')
    csv = tmp_path / 'r.csv'
    runs, experiments = summarize_results.main([str(root), '--csv', str(csv)])
    assert experiments[0]['mean'] != 57.5  # the float noise that the CSV must not show
    assert [r['iter'] for r in runs] == [8, 8]
    rows = [line.split('|') for line in capsys.readouterr().out.splitlines()
            if 'source-only_s' in line]
    assert [row[3].strip() for row in rows] == ['8', '8']  # the iter column
    row = csv.read_text().splitlines()[1].split(',')
    assert row[:4] == ['toygta2toycs_source-only', '2', '57.5', '0.7071']
