"""Loss and mIoU curves of runs from their mmcv JSON logs, saved as a PNG.

    python tools/plot_curves.py work_dirs/local-exp3/<run> [more runs or *.log.json] \
        [--keys decode.loss_seg mix.decode.loss_seg] --out curves.png

Top panel: the training losses over iterations (every key containing 'loss' unless --keys is
given), one line per run and key; bottom panel: validation mIoU (percent) over iterations.
"""
import argparse
import glob
import json
import os.path as osp
import sys

if __package__ in (None, ''):  # run as a script: make ``mmseg`` importable
    sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

import matplotlib  # noqa: E402

matplotlib.use('Agg')
import matplotlib.pyplot as plt  # noqa: E402

from mmseg.utils.errors import UserFileNotFoundError, UserInputError, run_cli  # noqa: E402

__all__ = ['load_log', 'run_label', 'plot_curves', 'main']


def _log_files(path):
    if osp.isdir(path):
        files = sorted(glob.glob(osp.join(path, '*.log.json')))
        if not files:
            raise UserFileNotFoundError(f'no *.log.json in {path}')
        return files
    if not osp.isfile(path):
        raise UserFileNotFoundError(f'{path} not found: give a run folder or a *.log.json file')
    return [path]


def load_log(path):
    """(train entries, val entries) of a run folder or JSON log, in logging order.

    A val entry's `iter` is the number of validation images in mmcv's logs; its training
    iteration (that of the train entry before it) is added as `train_iter`.
    """
    train, val = [], []
    train_iter = 0
    for file in _log_files(path):
        with open(file) as f:
            for line in f:
                line = line.strip()
                if not line:
                    continue
                entry = json.loads(line)
                if entry.get('mode') == 'train':
                    train.append(entry)
                    train_iter = entry['iter']
                elif entry.get('mode') == 'val':
                    val.append(dict(entry, train_iter=train_iter))
    return train, val


def run_label(path):
    """The run's name: its folder, also for a `<run>/<timestamp>.log.json` file."""
    path = osp.normpath(path)
    if osp.isfile(path):
        return osp.basename(osp.dirname(osp.abspath(path)))
    return osp.basename(path)


def plot_curves(paths, out_file, keys=None, title=None):
    """Plot the curves of the runs in ``paths`` into ``out_file``; returns the plotted keys.

    Each run has one colour in both panels; its loss keys differ by line style.
    """
    fig, (ax_loss, ax_miou) = plt.subplots(2, 1, figsize=(9, 8), sharex=True)
    plotted = set()
    colours = plt.rcParams['axes.prop_cycle'].by_key()['color']
    styles = ['-', '--', ':', '-.']
    for run_index, path in enumerate(paths):
        label = run_label(path)
        colour = colours[run_index % len(colours)]
        train, val = load_log(path)
        run_keys = keys or sorted({k for e in train for k in e if 'loss' in k})
        for key_index, key in enumerate(run_keys):
            points = [(e['iter'], e[key]) for e in train if key in e]
            if points:
                xs, ys = zip(*points)
                ax_loss.plot(xs, ys, color=colour, linestyle=styles[key_index % len(styles)],
                             label=f'{label}: {key}')
                plotted.add(key)
        points = [(e['train_iter'], 100.0 * e['mIoU'] if e['mIoU'] <= 1.0 else e['mIoU'])
                  for e in val if 'mIoU' in e]
        if points:
            xs, ys = zip(*points)
            ax_miou.plot(xs, ys, marker='o', color=colour, label=label)
            plotted.add('mIoU')
    if not plotted:
        plt.close(fig)
        raise UserInputError(f'nothing to plot: no loss or mIoU entries in {list(paths)}')
    ax_loss.set_ylabel('loss')
    ax_loss.legend(fontsize='small')
    ax_loss.grid(alpha=0.3)
    ax_miou.set_xlabel('iteration')
    ax_miou.set_ylabel('mIoU (%)')
    ax_miou.grid(alpha=0.3)
    if ax_miou.lines:
        ax_miou.legend(fontsize='small')
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(out_file, dpi=100)
    plt.close(fig)
    return sorted(plotted)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('paths', nargs='+', help='run folders or *.log.json files')
    parser.add_argument('--keys', nargs='+', help='loss keys to plot (default: all losses)')
    parser.add_argument('--out', default='curves.png',
                        help='output PNG (default: curves.png in the current folder)')
    parser.add_argument('--title')
    args = parser.parse_args(argv)
    plotted = plot_curves(args.paths, args.out, keys=args.keys, title=args.title)
    print(f'curves of {", ".join(plotted)} written to {osp.abspath(args.out)}')


if __name__ == '__main__':
    run_cli(main, 'plot')
