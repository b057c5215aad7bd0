"""`make demo`: MIC against source-only on the built-in toy data, end to end on CPU.

1. generate the toy GTA (source) and toy Cityscapes (target) data under data/toy with the real
   converters (train IDs, rare-class statistics), unless they are already there;
2. make the toy warm start data/toy/mittiny_toygta.pth (tools/make_toy_pretrained.py: a tiny
   MiT pre-trained on toy GTA, standing in for ImageNet weights), unless it is there;
3. train MIC(DAFormer), configs/toy/toy_gta2cs_mic_daformer.py (toy experiment 3), into
   <work-dir>/mic, with debug grids every 100 iterations;
4. train the source-only baseline, configs/toy/toy_gta2cs_source_only.py (toy experiment 1), into
   <work-dir>/source_only (``--no-source-only``: skip it and show the recorded reference instead);
5. evaluate both checkpoints on toy Cityscapes val with tools.test (the MIC predictions are drawn
   into <work-dir>/mic/preds);
6. print the per-class IoU of both side by side and write pictures: image | label | source-only |
   MIC of a few val images (<work-dir>/comparison), training curves (<work-dir>/curves.png) and
   the debug grids (<work-dir>/mic/debug).

The full output of each step goes to a text file in the work_dir; the console gets one line per
step, the table and a summary. The mIoU printed is the one tools.test prints for the checkpoint.
"""
import argparse
import os
import os.path as osp
import re
import subprocess
import sys
import time

import numpy as np

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
if REPO not in sys.path:
    sys.path.insert(0, REPO)

from mmseg.utils.errors import UserInputError, run_cli  # noqa: E402

__all__ = ['MIC_CONFIG', 'SOURCE_ONLY_CONFIG', 'REFERENCE_SOURCE_ONLY_MIOU', 'run', 'read',
           'evaluation_tables', 'summary_value', 'class_ious', 'comparison_table',
           'draw_comparison', 'main']

MIC_CONFIG = 'configs/toy/toy_gta2cs_mic_daformer.py'
SOURCE_ONLY_CONFIG = 'configs/toy/toy_gta2cs_source_only.py'
PRETRAINED = 'data/toy/mittiny_toygta.pth'
# Seed 0 of toy experiment 1 on toy Cityscapes val (the config run_experiments.py --exp 1 writes,
# trained by tools/train.py with one CPU thread; docs/toy_benchmark.md), shown with
# --no-source-only. Another thread count changes the last digits.
REFERENCE_SOURCE_ONLY_MIOU = 11.19


def run(cmd, output_file, what):
    """Run ``cmd`` in the repository with its output going to ``output_file``; on failure print
    the end of that output and exit (status 1). A step stopped by bad input (exit status 2: its
    last line is 'Cannot ...') raises UserInputError with that line instead."""
    print(f'{what} ... (output: {output_file})', flush=True)
    os.makedirs(osp.dirname(osp.join(REPO, output_file)) or '.', exist_ok=True)
    env = dict(os.environ)
    env['PYTHONPATH'] = os.pathsep.join(p for p in (REPO, env.get('PYTHONPATH')) if p)
    with open(osp.join(REPO, output_file), 'w') as out:
        status = subprocess.run(cmd, cwd=REPO, stdout=out, stderr=subprocess.STDOUT,
                                env=env).returncode
    text = read(output_file)
    lines = text.splitlines()
    if status == 2 and lines and lines[-1].startswith('Cannot '):
        raise UserInputError(f'{what} stopped: {lines[-1]} (full output in {output_file})')
    if status != 0:
        print('\n'.join(lines[-40:]), file=sys.stderr)
        sys.exit(f'{what} failed (exit status {status}); full output in {output_file}')
    return text


def read(path):
    with open(osp.join(REPO, path)) as f:
        return f.read()


def evaluation_tables(test_output):
    """The per-class and summary tables printed by tools.test (from 'per class results:')."""
    start = test_output.find('per class results:')
    if start < 0:
        return ''
    lines = [ln for ln in test_output[start:].splitlines()
             if ln.startswith(('per class', 'Summary', '+', '|'))]
    return '\n'.join(lines)


def summary_value(tables, key='mIoU'):
    """The value under ``key`` in the last table of ``tables`` (the summary), or None."""
    rows = [ln for ln in tables.splitlines() if ln.startswith('|')]
    for header, values in zip(rows[:-1], rows[1:]):
        names = [c.strip() for c in header.strip('|').split('|')]
        if key in names and names[0] == 'aAcc':
            cells = [c.strip() for c in values.strip('|').split('|')]
            return float(cells[names.index(key)])
    return None


def class_ious(tables):
    """Per-class IoU (percent) from the per-class table of ``tables``: {class: float or None}.

    A class absent from val and predictions is printed as 'nan' by tools.test and read as None.
    """
    ious, header = {}, None
    for line in tables.splitlines():
        if not line.startswith('|'):
            continue
        cells = [c.strip() for c in line.strip('|').split('|')]
        if cells[0] in ('Class', 'aAcc'):  # the per-class and the summary table's headers
            header = cells
        elif header is not None and header[0] == 'Class' and 'IoU' in header:
            value = cells[header.index('IoU')]
            ious[cells[0]] = None if value == 'nan' else float(value)
    return ious


def comparison_table(source_only, mic):
    """PrettyTable of per-class IoU: class | source-only | MIC(DAFormer) | difference.

    ``source_only`` may be None (no per-class figures): its column then shows '-'.
    """
    from prettytable import PrettyTable
    table = PrettyTable(['Class', 'source-only', 'MIC(DAFormer)', 'MIC - source-only'])
    for name, value in mic.items():
        base = None if source_only is None else source_only.get(name)
        diff = '-' if base is None or value is None else f'{value - base:+.2f}'
        table.add_row([name, '-' if base is None else f'{base:.2f}',
                       '-' if value is None else f'{value:.2f}', diff])
    table.align['Class'] = 'l'
    return table


def draw_comparison(cfg_path, checkpoints, out_dir, num_images=4):
    """Write ``out_dir/<image>.png`` for the first ``num_images`` val images: image, label and one
    colour-coded prediction per entry of ``checkpoints`` ({title: path}), side by side with a
    title bar. Returns the written paths."""
    import mmcv
    from PIL import Image, ImageDraw

    from mmseg.apis import inference_segmentor, init_segmentor
    from mmseg.datasets import build_dataset
    cfg = mmcv.Config.fromfile(osp.join(REPO, cfg_path))
    dataset = build_dataset(cfg.data.test)
    palette = np.array(dataset.PALETTE, dtype=np.uint8)
    models = {title: init_segmentor(cfg_path if osp.isabs(cfg_path) else osp.join(REPO, cfg_path),
                                    path, device='cpu') for title, path in checkpoints.items()}

    def colour(label):
        rgb = np.zeros(label.shape + (3, ), dtype=np.uint8)
        valid = label < len(palette)
        rgb[valid] = palette[label[valid]]
        return rgb

    os.makedirs(out_dir, exist_ok=True)
    written = []
    for index in range(min(num_images, len(dataset))):
        info = dataset.img_infos[index]
        image_path = osp.join(dataset.img_dir, info['filename'])
        image = mmcv.imread(image_path, channel_order='rgb')
        label = dataset.get_gt_seg_map_by_idx(index)
        panels = [('image', image), ('label', colour(label))]
        for title, model in models.items():
            pred = inference_segmentor(model, image_path)[0]
            panels.append((title, colour(pred.astype(np.int64))))
        h, w = image.shape[:2]
        bar = 14
        canvas = Image.new('RGB', (w * len(panels), h + bar), (255, 255, 255))
        draw = ImageDraw.Draw(canvas)
        for i, (title, panel) in enumerate(panels):
            canvas.paste(Image.fromarray(panel), (i * w, bar))
            draw.text((i * w + 3, 1), title, fill=(0, 0, 0))
        out = osp.join(out_dir, osp.basename(image_path))
        canvas.save(out)
        written.append(out)
    return written


def _test(py, cfg, checkpoint, output_file, what, show_dir=None):
    cmd = [py, '-m', 'tools.test', cfg, checkpoint, '--eval', 'mIoU']
    if show_dir:
        cmd += ['--show-dir', show_dir, '--opacity', '1']
    return evaluation_tables(run(cmd, output_file, what))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--work-dir', default='work_dirs/demo')
    parser.add_argument('--data-root', default='data/toy')
    parser.add_argument('--regenerate', action='store_true', help='make the toy data anew')
    parser.add_argument('--no-source-only', dest='source_only', action='store_false',
                        help='do not train the source-only baseline (about a minute); show the '
                             'recorded reference mIoU instead')
    args = parser.parse_args(argv)
    for option, folder in (('--work-dir', args.work_dir), ('--data-root', args.data_root)):
        if osp.exists(osp.join(REPO, folder)) and not osp.isdir(osp.join(REPO, folder)):
            raise UserInputError(f'{option} {folder} exists and is not a folder: give a folder')
    start = time.time()
    py, work_dir = sys.executable, args.work_dir
    mic_dir, so_dir = osp.join(work_dir, 'mic'), osp.join(work_dir, 'source_only')

    marker = osp.join(REPO, args.data_root, 'cityscapes', 'sample_class_stats.json')
    if args.regenerate or not osp.exists(marker):
        run([py, 'tools/make_toy_data.py', '--out', args.data_root],
            osp.join(work_dir, 'toy_data_output.txt'), f'1/6 making the toy data in {args.data_root}')
    else:
        print(f'1/6 toy data found in {args.data_root} (use --regenerate to make it anew)')
    if args.regenerate or not osp.exists(osp.join(REPO, PRETRAINED)):
        run([py, 'tools/make_toy_pretrained.py', '--force'],
            osp.join(work_dir, 'pretrain_output.txt'),
            f'2/6 pre-training the toy warm start {PRETRAINED} on toy GTA')
    else:
        print(f'2/6 toy warm start found: {PRETRAINED}')
    run([py, '-m', 'tools.train', MIC_CONFIG, '--work-dir', mic_dir, '--seed', '0',
         '--options', 'uda.debug_img_interval=100'],
        osp.join(work_dir, 'train_mic_output.txt'), f'3/6 training MIC(DAFormer) {MIC_CONFIG}')
    if args.source_only:
        run([py, '-m', 'tools.train', SOURCE_ONLY_CONFIG, '--work-dir', so_dir, '--seed', '0'],
            osp.join(work_dir, 'train_source_only_output.txt'),
            f'4/6 training source-only {SOURCE_ONLY_CONFIG}')
    else:
        print('4/6 source-only not trained (--no-source-only)')
    mic_ckpt = osp.join(mic_dir, 'latest.pth')
    preds = osp.join(mic_dir, 'preds')
    mic_tables = _test(py, MIC_CONFIG, mic_ckpt, osp.join(work_dir, 'test_mic_output.txt'),
                       '5/6 testing MIC(DAFormer) on toy Cityscapes val', show_dir=preds)
    so_tables, so_miou, so_label = None, REFERENCE_SOURCE_ONLY_MIOU, 'recorded reference'
    if args.source_only:
        so_tables = _test(py, SOURCE_ONLY_CONFIG, osp.join(so_dir, 'latest.pth'),
                          osp.join(work_dir, 'test_source_only_output.txt'),
                          '5/6 testing source-only on toy Cityscapes val')
        so_miou, so_label = summary_value(so_tables), 'trained now'

    print('6/6 drawing the comparison and the training curves', flush=True)
    checkpoints = {'MIC(DAFormer)': osp.join(REPO, mic_ckpt)}
    if args.source_only:
        checkpoints = {'source-only': osp.join(REPO, so_dir, 'latest.pth'), **checkpoints}
    comparison = draw_comparison(MIC_CONFIG, checkpoints, osp.join(REPO, work_dir, 'comparison'))
    from tools.plot_curves import plot_curves
    runs = [osp.join(REPO, mic_dir)] + ([osp.join(REPO, so_dir)] if args.source_only else [])
    curves = osp.join(work_dir, 'curves.png')
    plot_curves(runs, osp.join(REPO, curves), keys=['decode.loss_seg', 'mix.decode.loss_seg',
                                                    'masked.decode.loss_seg'])

    mic_miou = summary_value(mic_tables)
    print('\nPer-class IoU (%) on toy Cityscapes val, seed 0:')
    print(comparison_table(class_ious(so_tables) if so_tables else None, class_ious(mic_tables)))
    debug = osp.join(mic_dir, 'debug')
    n_debug = len(os.listdir(osp.join(REPO, debug))) if osp.isdir(osp.join(REPO, debug)) else 0
    fmt = lambda v: '?' if v is None else f'{v:.2f}'  # noqa: E731
    print('\nDemo finished in {:.1f} min'.format((time.time() - start) / 60))
    print(f'  mIoU on toy Cityscapes val: MIC(DAFormer) {fmt(mic_miou)}, '
          f'source-only {fmt(so_miou)} ({so_label})')
    print(f'  checkpoints:       {mic_ckpt}' +
          (f', {osp.join(so_dir, "latest.pth")}' if args.source_only else ''))
    print(f'  comparisons:       {work_dir}/comparison/ ({len(comparison)} images: image | label'
          f' | {" | ".join(checkpoints)})')
    print(f'  predictions drawn: {preds}/ (all val images)')
    print(f'  training curves:   {curves}')
    print(f'  debug grids:       {debug}/ ({n_debug} images)')
    print(f'  logs and configs:  {work_dir}/ (*_output.txt; *.log, *.log.json and TensorBoard '
          f'tf_logs/ in each run folder)')
    return mic_miou


if __name__ == '__main__':
    os.environ.setdefault('OMP_NUM_THREADS', str(os.cpu_count() or 1))
    run_cli(main, 'run the demo')
