"""Registries of the network parts and the builders that turn config dicts into modules."""
import warnings

from mmcv.cnn import MODELS as MMCV_MODELS
from mmcv.utils import Registry

# One parent registry, so that a config may name an mmcv layer (ConvModule, ...) anywhere.
MODELS = Registry('models', parent=MMCV_MODELS)
BACKBONES = MODELS
NECKS = MODELS
HEADS = MODELS
LOSSES = MODELS
SEGMENTORS = MODELS
# UDA methods wrap a segmentor; they live in their own registry as in the original.
UDA = Registry('uda')


def build_backbone(cfg):
    return BACKBONES.build(cfg)


def build_neck(cfg):
    return NECKS.build(cfg)


def build_head(cfg):
    return HEADS.build(cfg)


def build_loss(cfg):
    return LOSSES.build(cfg)


def build_segmentor(cfg, train_cfg=None, test_cfg=None):
    """Build a segmentor; train_cfg/test_cfg belong in ``cfg`` (the arguments are deprecated)."""
    if train_cfg is not None or test_cfg is not None:
        warnings.warn('train_cfg and test_cfg are deprecated, set them in the model config',
                      UserWarning)
    assert cfg.get('train_cfg') is None or train_cfg is None, \
        'train_cfg given both in the model config and as an argument'
    assert cfg.get('test_cfg') is None or test_cfg is None, \
        'test_cfg given both in the model config and as an argument'
    from mmseg.utils.config_args import config_build_error
    try:
        return SEGMENTORS.build(cfg, default_args=dict(train_cfg=train_cfg, test_cfg=test_cfg))
    except (KeyError, TypeError) as error:  # a misspelt type or key: one line, named
        user_error = config_build_error(error, 'model')
        if user_error is None:
            raise
        raise user_error from None


def check_model_options(cfg, device_type=None):
    """Check the config's top-level run options read where the model is built:
    ``mixed_precision``, ``compile`` (with inductor's C++ compiler), ``cpu_malloc_reuse``,
    ``channels_last`` and ``allow_tf32`` (docs/performance.md).

    ``device_type``: 'cuda' or 'cpu', the device the run uses (default: 'cuda' when
    ``torch.cuda.is_available()``, as tools/train.py and tools/test.py choose it);
    ``mixed_precision.dtype='float16'`` on 'cpu' is refused (it needs CUDA's loss scaling).

    tools/train.py, tools/test.py and tools/benchmark.py call it before anything is written or
    loaded.
    Raises UserInputError naming the key and what it takes (also a TypeError for a value of
    the wrong type, a RuntimeError for inductor without a C++ compiler).
    """
    from mmseg.utils.cpu_malloc import check_malloc_reuse_option
    from mmseg.utils.errors import as_user_error
    from .utils.memory_format import parse_allow_tf32, parse_channels_last
    from .utils.mixed_precision import check_mixed_precision_device, parse_mixed_precision
    from .utils.torch_compile import check_compile_backend, parse_compile
    try:
        parse_mixed_precision(cfg.get('mixed_precision'))
        parse_channels_last(cfg.get('channels_last'))
        parse_allow_tf32(cfg.get('allow_tf32'))
        check_compile_backend(parse_compile(cfg.get('compile')))
        check_malloc_reuse_option(cfg.get('cpu_malloc_reuse', True))
        check_mixed_precision_device(cfg.get('mixed_precision'), device_type)
    except (ValueError, TypeError, RuntimeError) as error:
        raise as_user_error(error) from None


def build_train_model(cfg, train_cfg=None, test_cfg=None):
    """The UDA wrapper when the config has ``uda`` (docs/REFERENCE.md §3.1), else the plain segmentor; with
    the config's ``mixed_precision`` (None / dict(dtype=..., fp32_upsample, cast_teacher_once))
    set on it, in channels-last memory format when the config sets ``channels_last`` and its
    student compiled when the config sets ``compile`` (mmseg/models/utils/torch_compile.py).

    Raises ValueError for a bad ``mixed_precision``, ``channels_last`` or ``compile`` value and
    RuntimeError for ``compile`` with the 'inductor' backend but no C++ compiler, before
    anything is built.
    """
    from .utils.memory_format import parse_channels_last, set_channels_last
    from .utils.mixed_precision import (parse_mixed_precision, parse_mixed_precision_options,
                                        set_mixed_precision)
    from .utils.torch_compile import check_compile_backend, parse_compile, set_compile
    dtype = parse_mixed_precision(cfg.get('mixed_precision'))
    precision_options = parse_mixed_precision_options(cfg.get('mixed_precision'))
    channels_last = parse_channels_last(cfg.get('channels_last'))
    compile_kwargs = parse_compile(cfg.get('compile'))
    check_compile_backend(compile_kwargs)
    from mmseg.utils.config_args import config_build_error
    try:
        if 'uda' in cfg:
            cfg.uda['model'] = cfg.model
            cfg.uda['max_iters'] = cfg.runner.max_iters
            model = UDA.build(cfg.uda, default_args=dict(train_cfg=train_cfg, test_cfg=test_cfg))
        else:
            model = build_segmentor(cfg.model, train_cfg=train_cfg, test_cfg=test_cfg)
    except (KeyError, TypeError) as error:  # a misspelt type or key: one line, named
        user_error = config_build_error(error, 'uda' if 'uda' in cfg else 'model')
        if user_error is None:
            raise
        raise user_error from None
    # ``mixed_precision = dict(dtype='bfloat16')``: autocast in every segmentor's passes.
    set_mixed_precision(model, dtype, **precision_options)
    # ``channels_last = True``: NHWC weights and backbone inputs (before compiling).
    set_channels_last(model, channels_last)
    # ``compile = True`` / dict(...): the student's backbone, neck and decode head, in place (the
    # EMA teacher and the ImageNet model stay eager).
    return set_compile(model, compile_kwargs)
