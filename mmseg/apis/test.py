"""Test loops: run a (wrapped) segmentor over a dataloader and collect one prediction per image."""
import os.path as osp
import tempfile

import mmcv
import numpy as np
import torch
import torch.distributed as dist
from mmcv.engine import collect_results_cpu, collect_results_gpu
from mmcv.image import tensor2imgs
from mmcv.runner import get_dist_info

__all__ = ['np2tmp', 'single_gpu_test', 'multi_gpu_test']


def np2tmp(array, temp_file_name=None, tmpdir=None):
    """Save ``array`` to a temporary .npy file (kept after closing) and return its path."""
    if temp_file_name is None:
        temp_file_name = tempfile.NamedTemporaryFile(suffix='.npy', delete=False,
                                                     dir=tmpdir).name
    np.save(temp_file_name, array)
    return temp_file_name


def _as_list(result):
    return list(result) if isinstance(result, (list, tuple)) else [result]


def _show_batch(model, data, results, palette, show, out_dir, opacity):
    """Draw each prediction over its de-normalised input image (original size)."""
    img_tensor = data['img'][0]
    img_metas = data['img_metas'][0].data[0]
    imgs = tensor2imgs(img_tensor, **img_metas[0]['img_norm_cfg'])
    segmentor = model.module if hasattr(model, 'module') else model
    for img, img_meta, result in zip(imgs, img_metas, results):
        h, w = img_meta['img_shape'][:2]
        ori_h, ori_w = img_meta['ori_shape'][:2]
        img_show = mmcv.imresize(img[:h, :w, :], (ori_w, ori_h))
        out_file = osp.join(out_dir, img_meta['ori_filename']) if out_dir else None
        segmentor.show_result(img_show, [result], palette=palette, show=show, out_file=out_file,
                              opacity=opacity)


def single_gpu_test(model, data_loader, show=False, out_dir=None, efficient_test=False,
                    opacity=0.5):
    """Predict every image of ``data_loader`` with ``model`` (eval mode, no gradients).

    Returns a list with one H×W label map (np.ndarray, original size) per image, or the paths of
    temporary .npy files holding them when ``efficient_test``. ``show``/``out_dir`` draw the
    prediction blended over the image (``opacity`` of the colour map) into ``out_dir`` under the
    image's ``ori_filename``.
    """
    model.eval()
    results = []
    dataset = data_loader.dataset
    palette = getattr(dataset, 'PALETTE', None)
    prog_bar = mmcv.ProgressBar(len(dataset))
    for data in data_loader:
        with torch.no_grad():
            result = _as_list(model(return_loss=False, rescale=True, **data))
        if show or out_dir:
            _show_batch(model, data, result, palette, show, out_dir, opacity)
        if efficient_test:
            result = [np2tmp(r) for r in result]
        results.extend(result)
        for _ in range(len(result)):
            prog_bar.update()
    prog_bar.file.write('\n')  # end the bar's line before the tables that follow
    return results


def multi_gpu_test(model, data_loader, tmpdir=None, gpu_collect=False, efficient_test=False):
    """Distributed test loop: each rank predicts its shard; rank 0 gets all results in order.

    The loader's DistributedSampler (shuffle off) gives rank r the images r, r + world_size, ...;
    mmcv's collectors interleave the parts back into dataset order and drop the sampler's
    padding, so the list equals that of ``single_gpu_test``. Results are gathered through
    ``tmpdir`` on disk (default: a temporary folder) or through GPU memory (``gpu_collect``);
    other ranks get None.
    """
    model.eval()
    results = []
    dataset = data_loader.dataset
    rank, world_size = get_dist_info()
    prog_bar = mmcv.ProgressBar(len(dataset)) if rank == 0 else None
    for data in data_loader:
        with torch.no_grad():
            result = _as_list(model(return_loss=False, rescale=True, **data))
        if efficient_test:
            result = [np2tmp(r) for r in result]
        results.extend(result)
        if prog_bar is not None:
            for _ in range(len(result) * world_size):
                prog_bar.update()
    if prog_bar is not None:
        prog_bar.file.write('\n')
    if gpu_collect:
        return collect_results_gpu(results, len(dataset))
    return collect_results_cpu(results, len(dataset), _shared_tmpdir(tmpdir))


def _shared_tmpdir(tmpdir):
    """``tmpdir``, or a fresh temporary folder made by rank 0 and named to all ranks (mmcv's
    own choice of folder needs CUDA); it must be on a file system all ranks see."""
    if tmpdir is not None:
        return tmpdir
    name = [tempfile.mkdtemp(prefix='mmseg_collect_') if get_dist_info()[0] == 0 else None]
    dist.broadcast_object_list(name, src=0)
    return name[0]
