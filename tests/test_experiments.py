"""experiments.py (run lists and names of docs/REFERENCE.md §7) and run_experiments.py (generated configs)."""
import glob
import json
import os.path as osp
import re
import sys
import types

import pytest
import torch
from mmcv import Config, ConfigDict

import run_experiments
from config_helpers import unformatted_config_text
from experiments import generate_experiment_cfgs

PAPER_COUNTS = {80: 12, 81: 18, 82: 12, 83: 12, 84: 45, 85: 3, 87: 3}
TOY_COUNTS = {1: 3, 2: 3, 3: 3, 4: 3, 5: 12, 6: 3, 7: 3, 8: 3, 9: 3}
SPEC_KEYS = ('_base_', 'name', 'exp', 'name_dataset', 'name_architecture', 'name_encoder',
             'name_decoder', 'name_uda', 'name_opt', 'gpu_model', 'n_gpus', 'seed', 'model',
             'data', 'optimizer', 'runner', 'checkpoint_config', 'evaluation')


@pytest.mark.parametrize('exp_id,count', sorted({**PAPER_COUNTS, **TOY_COUNTS}.items()))
def test_run_counts_keys_and_seeds(exp_id, count):
    cfgs = generate_experiment_cfgs(exp_id)
    assert len(cfgs) == count
    names = [c['name'] for c in cfgs]
    assert len(set(names)) == count
    for cfg in cfgs:
        for key in SPEC_KEYS:
            assert key in cfg, key
        assert cfg['exp'] == exp_id
        assert cfg['name'].endswith(f"_s{cfg['seed']}")
        assert cfg['data']['samples_per_gpu'] == 2
        assert cfg['evaluation']['interval'] == cfg['runner']['max_iters'] // (
            4 if exp_id in TOY_COUNTS else 10)
    # every setting runs with seeds 0, 1, 2
    settings = {}
    for cfg in cfgs:
        settings.setdefault(cfg['name'][:-3], []).append(cfg['seed'])
    assert all(sorted(s) == [0, 1, 2] for s in settings.values())


def test_spec_example_names():
    names = {c['name'] for i in PAPER_COUNTS for c in generate_experiment_cfgs(i)}
    for expected in (
            'gtaHR2csHR_1024x1024_dacs_a999_fdthings_rcs001-20_cpl2_m64-07-spta_hrda1-512-01_'
            'daformer_sepaspp_sl_mitb5_poly10warm_s0',
            'gta2cs_advseg_m32-07-spta_dlv2red_r101v1c_poly10warm_sgd_00025_pmF_s0',
            'cs2cs_dacs_srconly_m32-07-sps_daformer_sepaspp_mitb5_poly10warm_s0'):
        assert expected in names


def test_meta_keys_of_the_mic_hrda_run():
    cfg = generate_experiment_cfgs(80)[0]
    # docs/REFERENCE.md §6 gives these for the same setting (seed aside)
    assert cfg['name_dataset'] == 'gtaHR2cityscapesHR_1024x1024'
    assert cfg['name_architecture'] == 'hrda1-512-0.1_daformer_sepaspp_sl_mitb5'
    assert cfg['name_decoder'] == 'hrda1-512-0.1_daformer_sepaspp_sl'
    assert cfg['name_uda'] == 'dacs_a999_fdthings_rcs0.01-2.0_cpl2_m64-0.7-spta'
    assert cfg['name_opt'] == 'adamw_6e-05_pmTrue_poly10warm_1x2_40k'
    assert cfg['_base_'] == [
        '_base_/default_runtime.py', '_base_/models/daformer_sepaspp_mitb5.py',
        '_base_/datasets/uda_gtaHR_to_cityscapesHR_1024x1024.py',
        '_base_/uda/dacs_a999_fdthings.py', '_base_/schedules/adamw.py',
        '_base_/schedules/poly10warm.py']


def test_experiment_84_grid_and_83_ablations():
    pairs = set()
    for cfg in generate_experiment_cfgs(84):
        block, ratio = re.search(r'_m(\d+)-(\d+)-spta_', cfg['name']).groups()
        pairs.add((int(block), int(ratio)))
    expected = {(b, r) for b in (16, 32, 64, 128) for r in (3, 5, 7, 9)} - {(32, 7)}
    assert pairs == expected
    names = sorted({c['name'] for c in generate_experiment_cfgs(83) if c['seed'] == 0})
    prefix = 'gta2cs_dacs_a999_fdthings_rcs001_cpl_'
    suffix = '_daformer_sepaspp_mitb5_poly10warm_s0'
    assert names == sorted(prefix + m + suffix for m in (
        'm32-07-spt', 'm32-0-spta', 'm32-07-a0-spta', 'm32-07-pN-spta'))
    no_conf = [c for c in generate_experiment_cfgs(83) if '-pN-' in c['name']][0]
    assert no_conf['uda']['mask_pseudo_threshold'] is None


def test_experiment_80_datasets_and_modes():
    runs = [c for c in generate_experiment_cfgs(80) if c['seed'] == 0]
    got = [(c['name_dataset'], c['uda']['mask_mode'],
            c['data']['train'].get('target', {}).get('crop_pseudo_margins')) for c in runs]
    assert got == [
        ('gtaHR2cityscapesHR_1024x1024', 'separatetrgaug', [30, 240, 30, 30]),
        ('synthiaHR2cityscapesHR_1024x1024', 'separatetrgaug', [30, 240, 30, 30]),
        ('cityscapesHR2acdcHR_1024x1024', 'separate', None),
        ('cityscapesHR2darkzurichHR_1024x1024', 'separate', None)]


def test_unknown_id_lists_known_ids():
    with pytest.raises(ValueError, match=r'unknown experiment id 99.*80, 81, 82, 83, 84, 85'):
        generate_experiment_cfgs(99)


def test_cli_unknown_id(capsys):
    with pytest.raises(SystemExit) as exc:
        run_experiments.main(['--exp', '99', '--dry-run'])
    assert exc.value.code == 2
    assert ('unknown experiment id 99; known ids: 1, 2, 3, 4, 5, 6, 7, 8, 9, 80'
            in capsys.readouterr().err)


def _tiny_model(cfg):
    """Shrink the network of a loaded config so that building it is cheap."""
    model = cfg.model
    model.pretrained = None
    head = model.decode_head
    if model.backbone.type.startswith('mit') or model.backbone.type == 'MixVisionTransformer':
        model.backbone = ConfigDict(type='MixVisionTransformer', embed_dims=[8, 16, 32, 64],
                                    num_heads=[1, 1, 2, 4], depths=[1, 1, 1, 1],
                                    sr_ratios=[8, 4, 2, 1])
        head.in_channels, head.channels = [8, 16, 32, 64], 16
        head.decoder_params.embed_dims = 16
    elif model.backbone.type == 'TIMMBackbone':
        pass  # the toy ViT (toy id 6) is already tiny; exp 90's ViT-B/L are built elsewhere
    else:  # ResNetV1c: 8 base channels give 8 * 8 * 4 = 256 output channels
        model.backbone.update(base_channels=8, stem_channels=8)
        head.in_channels = 256
    if head.type == 'HRDAHead':
        head.attention_embed_dim = 16
    return cfg


@pytest.fixture(scope='module')
def generated(tmp_path_factory):
    """Every experiment written by run_experiments.py --dry-run into a temporary folder."""
    gen_dir = tmp_path_factory.mktemp('generated')
    runs = {}
    for exp_id in sorted({**PAPER_COUNTS, **TOY_COUNTS}):
        runs[exp_id] = run_experiments.main(['--exp', str(exp_id), '--dry-run',
                                             '--gen-dir', str(gen_dir)])
    return gen_dir, runs


def test_dry_run_writes_one_config_per_run(generated, capsys):
    gen_dir, runs = generated
    files = glob.glob(osp.join(gen_dir, 'local-exp80', '*.py'))
    assert len(files) == 12 and len(runs[80]) == 12
    name, path = runs[80][0]
    assert re.fullmatch(r'\d{6}_\d{4}_gtaHR2csHR_.*_s0_[0-9a-f]{5}', name)
    cfg = Config.fromfile(path)
    assert cfg.name == name
    assert cfg.work_dir == osp.join('work_dirs', 'local-exp80', name)
    assert re.fullmatch(r'[0-9a-f]{40}|unknown', cfg.git_rev)


@pytest.mark.parametrize('exp_id', sorted({**PAPER_COUNTS, **TOY_COUNTS}))
def test_generated_configs_load_and_build(generated, exp_id):
    from mmseg.models import build_train_model
    from mmseg.models.utils import build_mask_generator
    _, runs = generated
    seen, built = set(), set()
    for name, path in runs[exp_id]:
        setting = re.sub(r'_s\d_[0-9a-f]{5}$', '', name[12:])
        if setting in seen:
            continue  # seeds differ only in `seed` (not even loaded: loading is the slow part)
        seen.add(setting)
        cfg = Config.fromfile(path)
        assert '_delete_' not in unformatted_config_text(cfg)
        if 'uda' in cfg and cfg.uda.get('mask_mode') is not None:
            assert set(cfg.uda.mask_generator) == {'type', 'mask_ratio', 'mask_block_size'}
            build_mask_generator(cfg.uda.mask_generator)  # the part that differs (exp 84)
        # Settings with the same network and the same UDA keys build the same objects (the
        # values only enter the training step): build one of each.
        cfg = _tiny_model(cfg)
        uda = cfg.get('uda', {})
        signature = (cfg.model.pretty_text if hasattr(cfg.model, 'pretty_text') else
                     str(cfg.model), uda.get('type'), tuple(sorted(uda)))
        if signature in built:
            continue
        built.add(signature)
        torch.manual_seed(0)
        model = build_train_model(cfg)
        keys = model.state_dict().keys()
        if 'uda' not in cfg:
            assert not any(k.startswith('model.') for k in keys)
            continue
        assert type(model).__name__ == {'DACS': 'DACS', 'AdvSeg': 'AdvSeg',
                                        'MinEnt': 'MinEnt'}[cfg.uda.type]
        assert any(k.startswith('model.backbone.') for k in keys)
        if cfg.uda.get('imnet_feature_dist_lambda', 0) > 0:
            assert any(k.startswith('imnet_model.') for k in keys)
        if cfg.model.type == 'HRDAEncoderDecoder':
            assert any(k.startswith('model.decode_head.scale_attention.') for k in keys)


def test_debug_and_startup_test_overrides(tmp_path):
    runs = run_experiments.main(['--exp', '3', '--dry-run', '--debug', '--gen-dir',
                                 str(tmp_path)])
    cfg = Config.fromfile(runs[0][1])
    assert (cfg.log_config.interval, cfg.log_config.img_interval) == (10, 10)
    assert cfg.evaluation.interval == 200 and cfg.uda.debug_img_interval == 10
    runs = run_experiments.main(['--exp', '80', '--dry-run', '--startup-test', '--gen-dir',
                                 str(tmp_path)])
    assert len(runs) == 4  # seed 0 only
    assert len(glob.glob(osp.join(tmp_path, 'local-exp80-startup', '*.py'))) == 4
    cfg = Config.fromfile(runs[0][1])
    # Unlike the original's ERROR level: both iterations logged, text and JSON logs not empty.
    assert cfg.runner.max_iters == 2 and cfg.log_level == 'INFO'
    assert cfg.log_config.interval == 1
    assert cfg.evaluation.interval == 100
    assert cfg.checkpoint_config == dict(by_epoch=False, interval=100, save_last=True)
    assert cfg.work_dir.startswith(osp.join('work_dirs', 'local-exp80-startup'))


def test_config_mode_writes_child_config(tmp_path, repo_root):
    config = osp.join(repo_root, 'configs', 'mic', 'gtaHR2csHR_mic_hrda.py')
    runs = run_experiments.main(['--config', config, '--dry-run', '--startup-test',
                                 '--gen-dir', str(tmp_path)])
    (name, path), = runs
    assert re.fullmatch(r'\d{6}_\d{4}_gtaHR2csHR_mic_hrda_s2_[0-9a-f]{5}', name)
    assert path == osp.join(tmp_path, 'local-basic', f'{name}.py')
    child = Config.fromfile(path)
    assert child.work_dir == osp.join('work_dirs', 'local-basic', name)
    assert child.model.type == 'HRDAEncoderDecoder'  # the rest comes from the base
    assert child.runner.max_iters == 2 and child.checkpoint_config.max_keep_ckpts == 1
    with pytest.raises(FileNotFoundError, match='nope.py'):
        run_experiments.main(['--config', str(tmp_path / 'nope.py'), '--dry-run'])


def test_runs_train_one_after_another_with_cfg_options(tmp_path, monkeypatch):
    calls = []
    fake_train = types.ModuleType('tools.train')
    fake_train.main = lambda args: calls.append(list(args))
    monkeypatch.setitem(sys.modules, 'tools.train', fake_train)
    import tools
    monkeypatch.setattr(tools, 'train', fake_train, raising=False)
    runs = run_experiments.main(['--exp', '1', '--gen-dir', str(tmp_path), '--cfg-options',
                                 'data.workers_per_gpu=0', 'model.backbone.depths=[1,1,1,1]'])
    assert calls == [[path, '--auto-resume', '--cfg-options', 'data.workers_per_gpu=0',
                      'model.backbone.depths=[1,1,1,1]'] for _, path in runs]
    assert len(calls) == 3


@pytest.mark.slow
def test_startup_test_trains_toy_run(tmp_path, toy_data_root, capsys):
    """run_experiments.py --startup-test on the toy MIC experiment: 2 iterations, a checkpoint."""
    work = tmp_path / 'work_dirs'
    roots = {'data.train.source.data_root': toy_data_root / 'gta',
             'data.train.target.data_root': toy_data_root / 'cityscapes',
             'data.val.data_root': toy_data_root / 'cityscapes',
             'data.test.data_root': toy_data_root / 'cityscapes'}
    # The fixture's 128x64 images hold too few pixels of some classes for min_pixels=100.
    options = [f'{k}={v}/' for k, v in roots.items()] + [
        'data.train.rare_class_sampling.min_pixels=0',
        f'model.pretrained={toy_data_root}/mittiny_toygta.pth']
    runs = run_experiments.main(['--exp', '3', '--startup-test', '--gen-dir',
                                 str(tmp_path / 'generated'), '--work-dirs', str(work),
                                 '--cfg-options'] + options)
    (name, _), = runs
    run_dir = work / 'local-exp3-startup' / name
    assert (run_dir / 'iter_2.pth').is_file()  # saved as the last iteration
    out = capsys.readouterr().out
    assert 'Startup test passed: 1 run(s) trained 2 iterations each' in out
    assert f'  {run_dir}' in out
    text_log, = run_dir.glob('*.log')
    json_log, = run_dir.glob('*.log.json')
    assert 'Iter [2/2]' in text_log.read_text()
    assert [json.loads(line).get('iter') for line in json_log.read_text().splitlines()[1:]] \
        == [1, 2]
    assert (run_dir / 'latest.pth').is_file()
    checkpoint = torch.load(run_dir / 'iter_2.pth', map_location='cpu', weights_only=False)
    # meta iter counts the finished iterations (mmcv 1.x stored 1 here, one less)
    assert checkpoint['meta']['iter'] == 2
    assert not (run_dir / 'iter_4.pth').exists()  # the run stopped after 2 iterations
    keys = checkpoint['state_dict'].keys()
    assert any(k.startswith('model.backbone.') for k in keys)
    assert any(k.startswith('ema_model.') for k in keys)  # DACS teacher


def test_an_interrupted_run_is_resumed_instead_of_started_again(tmp_path, monkeypatch):
    import torch
    monkeypatch.chdir(tmp_path)
    config = tmp_path / 'my.py'
    config.write_text("name = 'myrun'\nexp = 'toy'\nrunner = dict(type='IterBasedRunner', "
                      "max_iters=4)\n")
    argv = ['--config', str(config), '--dry-run', '--gen-dir', str(tmp_path / 'gen')]
    [(first, first_path)] = run_experiments.main(argv)
    work_dir = tmp_path / 'work_dirs' / 'local-toy' / first
    work_dir.mkdir(parents=True)
    torch.save({}, work_dir / 'iter_2.pth')  # interrupted after 2 of 4 iterations
    assert run_experiments.main(argv) == [(first, first_path)]
    torch.save({}, work_dir / 'iter_4.pth')  # finished: a new run
    [(second, _)] = run_experiments.main(argv)
    assert second != first and re.fullmatch(r'\d{6}_\d{4}_myrun_[0-9a-f]{5}', second)


def test_an_interrupted_run_is_found_with_the_max_iters_of_cfg_options(tmp_path, monkeypatch):
    import torch
    monkeypatch.chdir(tmp_path)
    config = tmp_path / 'my.py'
    config.write_text("name = 'myrun'\nexp = 'toy'\nrunner = dict(type='IterBasedRunner', "
                      "max_iters=4)\n")
    argv = ['--config', str(config), '--dry-run', '--gen-dir', str(tmp_path / 'gen'),
            '--cfg-options', 'runner.max_iters=40']
    [(first, first_path)] = run_experiments.main(argv)
    work_dir = tmp_path / 'work_dirs' / 'local-toy' / first
    work_dir.mkdir(parents=True)
    # stopped after 4 of the 40 iterations the training was given (the config says 4)
    torch.save({}, work_dir / 'iter_4.pth')
    assert run_experiments.main(argv) == [(first, first_path)]
    # without the option the same checkpoint is the end of a finished run: a new run
    [(second, _)] = run_experiments.main(argv[:-2])
    assert second != first


def test_dry_run_without_gen_dir_keeps_nothing(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(run_experiments, 'GEN_CONFIG_DIR', str(tmp_path / 'default_generated'))
    runs = run_experiments.main(['--exp', '1', '--dry-run'])
    assert len(runs) == 3 and not any(osp.exists(path) for _, path in runs)
    assert not (tmp_path / 'default_generated').exists()
    out = capsys.readouterr().out
    assert all(name in out for name, _ in runs)
    assert 'nothing trained or kept (give --gen-dir DIR to keep the configs)' in out


def test_absolute_gen_dir_is_printed_as_given(tmp_path, monkeypatch, capsys, repo_root):
    monkeypatch.chdir(repo_root)
    runs = run_experiments.main(['--exp', '1', '--dry-run', '--gen-dir', str(tmp_path)])
    out = capsys.readouterr().out
    for _, path in runs:
        assert path.startswith(str(tmp_path)) and f': {path}\n' in out


def test_missing_data_stops_before_training_and_removes_the_configs(tmp_path, capsys,
                                                                     monkeypatch):
    from mmseg.utils import run_cli
    monkeypatch.delenv('MICSEG_TRACEBACK', raising=False)
    gen_dir = tmp_path / 'generated'
    with pytest.raises(SystemExit) as exit_info:
        run_cli(run_experiments.main, 'train',
                ['--exp', '1', '--gen-dir', str(gen_dir), '--cfg-options',
                 f'data.train.data_root={tmp_path}/absent_toy_gta'])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith('Cannot train: these data folders / weight files do not exist: ')
    listed = err.split('do not exist: ')[1].split('. Download')[0].split(', ')
    assert f'{tmp_path}/absent_toy_gta' in listed and 'configs were removed' in err
    assert err.count('\n') == 1
    assert not gen_dir.exists() or not any(gen_dir.rglob('*.py'))


def test_config_generated_from_a_config_names_that_config(tmp_path, repo_root):
    config = osp.join(repo_root, 'configs', 'mic', 'gtaHR2csHR_mic_hrda.py')
    (_, path), = run_experiments.main(['--config', config, '--dry-run', '--gen-dir',
                                       str(tmp_path)])
    header = open(path).readline()
    assert header == f'# Generated by run_experiments.py from {config}; edit that file instead.\n'
    assert 'edit experiments.py' not in open(path).read()


def test_a_run_with_failed_evaluations_does_not_stop_the_next_runs(tmp_path, monkeypatch,
                                                                   capsys):
    """tools/train.py exits 3 after a run whose evaluations failed (docs/RUNS.md): the run is
    trained and kept; the other runs still train, and run_experiments.py exits 3 at the end."""
    calls = []

    def fake_main(args):
        calls.append(args[0])
        if len(calls) == 1:
            raise SystemExit(3)
        return 'work'

    fake_train = types.ModuleType('tools.train')
    fake_train.main = fake_main
    monkeypatch.setitem(sys.modules, 'tools.train', fake_train)
    import tools
    monkeypatch.setattr(tools, 'train', fake_train, raising=False)
    with pytest.raises(SystemExit) as exit_info:
        run_experiments.main(['--exp', '1', '--gen-dir', str(tmp_path)])
    assert exit_info.value.code == 3 and len(calls) == 3
    first = osp.splitext(osp.basename(calls[0]))[0]
    assert capsys.readouterr().err == (
        f'1 run(s) finished with failed evaluations: {first} (their checkpoints and the '
        f'tools/test.py commands are named above; docs/RUNS.md)\n')


def _interrupted_run(gen_dir, work_dir, base, stamp):
    """A generated child config of ``base`` whose work_dir holds iter_2.pth of 4 iterations."""
    name = f'{stamp}_toy_run_abcde'
    (work_dir / name).mkdir(parents=True)
    torch.save({'meta': {'iter': 2}}, work_dir / name / 'iter_2.pth')  # a whole zip file
    gen_dir.mkdir(exist_ok=True)
    path = gen_dir / f'{name}.py'
    path.write_text(f"_base_ = {osp.relpath(base, gen_dir)!r}\nname = {name!r}\n"
                    f"work_dir = {str(work_dir / name)!r}\n")
    return name, str(path)


def test_an_interrupted_run_is_resumed_only_from_the_same_config_file(tmp_path, capsys):
    """A generated config left by another file with the same name and exp (or by a file since
    deleted) is neither resumed nor a crash: only the run of the given file is found."""
    body = "name = 'toy_run'\nexp = 'toy'\nrunner = dict(type='IterBasedRunner', max_iters=4)\n"
    mine, other, gone = (tmp_path / f'{n}.py' for n in ('mine', 'other', 'gone'))
    for path in (mine, other, gone):
        path.write_text(body)
    gen, work = tmp_path / 'gen', tmp_path / 'work'
    expected = _interrupted_run(gen, work, mine, '260101_0000')
    _interrupted_run(gen, work, other, '260102_0000')  # newer, from another file
    _interrupted_run(gen, work, gone, '260103_0000')  # newest, its file deleted below
    gone.unlink()
    assert run_experiments.find_unfinished_run(str(gen), 'toy_run', base=str(mine)) == expected
    # Without a base (experiments.py runs), an unreadable config is skipped with a warning.
    found = run_experiments.find_unfinished_run(str(gen), 'toy_run')
    assert found is not None and found[0].startswith('260102_0000')
    assert 'skipped' in capsys.readouterr().err
