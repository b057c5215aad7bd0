"""Optional ``torch.compile`` of the student: the config key ``compile`` (mmengine's name).

``compile = None`` or ``False``: off (the default). ``True``: torch.compile's defaults (the
'inductor' backend). ``dict(backend='inductor', mode=None, dynamic=None, fullgraph=False,
options=None)``: any of these keyword arguments of ``torch.compile`` (PyTorch documentation,
"torch.compile": https://pytorch.org/docs/stable/generated/torch.compile.html); a dict turns the
option on, so ``--cfg-options compile.mode=max-autotune`` alone enables it.

What is compiled: the network parts of the student segmentor (the UDA wrapper's ``model``, or the
plain segmentor) that every pass goes through: ``backbone``, ``neck`` and ``decode_head``, in
place with ``nn.Module.compile``, so the state dict keys stay those of the eager model and
checkpoints load both ways. For ``HRDAHead`` its single-scale ``head`` and ``scale_attention``
are compiled, and the fusion around them stays eager: its random detail-crop box is Python state
that would force a recompile at every new box. The EMA teacher and the frozen ImageNet model are
built apart from the config and stay eager.

Recompiles: torch._dynamo compiles a part again for each new combination of input shape (and
strides), train/eval mode, grad mode and autocast state (with ``dynamic=None`` a second shape
makes the changed sizes symbolic). Parts of one class share one cache (HRDA's ``head`` and
``scale_attention`` are both DAFormerHeads), and past ``torch._dynamo.config.recompile_limit``
(8) variants of a forward torch._dynamo runs it eager from then on, with only a log line.
Counted with the 'eager' backend on configs/toy/toy_gta2cs_mic_hrda.py: a MIC(HRDA) training
step (source, mixed and masked passes) makes 2 variants of the MiT forward (contiguous context
input, strided detail crop) and 2 of the DAFormerHead forward (head, scale attention); HRDA
inference of one image size adds 2 and 3 (no grad, eval mode; context image, batched detail
windows). Every further image size adds more: one training step plus inference at three sizes
makes 7 and 10 on the tiny model of tests/models/uda/test_uda_compile.py, so tools/test.py on
images of several sizes or with --aug-test (6 scales) can pass the limit. The compiled parts
therefore run with the limit raised to ``RECOMPILE_LIMIT`` (``RecompileLimit``, only while they
run).

Errors: ``parse_compile`` raises ValueError naming the key ``compile`` for a value it cannot use;
``check_compile_backend`` (called by ``set_compile``, ``build_train_model`` and tools/test.py
before anything is built) raises RuntimeError when the 'inductor' backend finds no C++ compiler.
"""
import shlex
import shutil

import torch

__all__ = ['COMPILE_KEYS', 'RECOMPILE_LIMIT', 'parse_compile', 'check_compile_backend',
           'compile_targets', 'RecompileLimit', 'set_compile', 'is_compiled']

# The keyword arguments of torch.compile that the config may set.
COMPILE_KEYS = ('backend', 'mode', 'dynamic', 'fullgraph', 'options')
COMPILE_MODES = (None, 'default', 'reduce-overhead', 'max-autotune',
                 'max-autotune-no-cudagraphs')
# Variants of one compiled forward allowed (torch._dynamo's recompile_limit while it runs): room
# for training, validation and test images of several sizes (counts above).
RECOMPILE_LIMIT = 32

_EXPECTED = ("compile must be None, False, True or a dict of torch.compile's arguments "
             f'{list(COMPILE_KEYS)}')


def parse_compile(cfg):
    """The torch.compile keyword arguments of a ``compile`` config value, or None (off).

    Raises ValueError naming the key for anything but None, a bool or a dict of COMPILE_KEYS
    with valid values.
    """
    if cfg is None or cfg is False:
        return None
    if cfg is True:
        return {}
    if not isinstance(cfg, dict):
        raise ValueError(f'{_EXPECTED}, got {cfg!r}')
    unknown = sorted(set(cfg) - set(COMPILE_KEYS))
    if unknown:
        raise ValueError(f'{_EXPECTED}, got unknown keys {unknown}')
    kwargs = {k: (dict(v) if isinstance(v, dict) else v) for k, v in cfg.items()}
    _check_compile_values(kwargs)
    return kwargs


def _check_compile_values(kwargs):
    backend = kwargs.get('backend', 'inductor')
    if not callable(backend):
        import torch._dynamo  # imported when used: it takes a while
        known = torch._dynamo.list_backends(exclude_tags=())
        if backend not in known:
            raise ValueError(f'compile.backend must be one of {known} (or a callable), got '
                             f'{backend!r}')
    if kwargs.get('mode') not in COMPILE_MODES:
        raise ValueError(f'compile.mode must be one of {list(COMPILE_MODES)}, got '
                         f'{kwargs["mode"]!r}')
    if kwargs.get('dynamic') not in (None, True, False):
        raise ValueError(f'compile.dynamic must be None, True or False, got '
                         f'{kwargs["dynamic"]!r}')
    if not isinstance(kwargs.get('fullgraph', False), bool):
        raise ValueError(f'compile.fullgraph must be True or False, got '
                         f'{kwargs["fullgraph"]!r}')
    if not isinstance(kwargs.get('options') or {}, dict):
        raise ValueError(f'compile.options must be a dict, got {kwargs["options"]!r}')
    if kwargs.get('mode') is not None and kwargs.get('options'):
        raise ValueError('compile.mode and compile.options cannot both be set (torch.compile '
                         'takes one of them)')


def _configured_cxx():
    """The C++ compilers inductor tries, in order (torch._inductor.config.cpp.cxx; the CXX
    environment variable, else g++ / clang++ on macOS)."""
    from torch._inductor import config
    cxx = config.cpp.cxx
    return [c for c in (cxx if isinstance(cxx, (list, tuple)) else (cxx,)) if c]


def check_compile_backend(kwargs):
    """Raise RuntimeError now when the 'inductor' backend has no C++ compiler to call (it
    builds its CPU kernels with one), instead of deep inside the first training step."""
    if kwargs is None or kwargs.get('backend', 'inductor') != 'inductor':
        return
    candidates = _configured_cxx()
    for cxx in candidates:
        if shutil.which(shlex.split(cxx)[0]):
            return
    raise RuntimeError(f"compile: the 'inductor' backend needs a C++ compiler and none of "
                       f'{candidates} is on PATH (torch._inductor.config.cpp.cxx, set by the CXX '
                       f"environment variable): install g++ (e.g. apt-get install g++), point "
                       f"CXX at a compiler, or use compile=dict(backend='aot_eager')")


def compile_targets(segmentor):
    """{name: module} of the parts of ``segmentor`` to compile: backbone, neck, decode head
    (HRDAHead: its ``head`` and ``scale_attention``, the crop-box fusion stays eager)."""
    targets = {'backbone': segmentor.backbone}
    if getattr(segmentor, 'neck', None) is not None:
        targets['neck'] = segmentor.neck
    head = segmentor.decode_head
    if hasattr(head, 'set_hr_crop_box'):
        targets['decode_head.head'] = head.head
        if getattr(head, 'scale_attention', None) is not None:
            targets['decode_head.scale_attention'] = head.scale_attention
    else:
        targets['decode_head'] = head
    return targets


def _student(model):
    get_model = getattr(model, 'get_model', None)
    return get_model() if get_model is not None else model


class RecompileLimit:
    """Calls ``compiled_call`` (the compiled ``__call__`` that ``nn.Module.compile`` keeps in
    ``_compiled_call_impl``) with torch._dynamo's recompile_limit raised to at least
    RECOMPILE_LIMIT, restored afterwards."""

    def __init__(self, compiled_call):
        self.compiled_call = compiled_call

    def __call__(self, *args, **kwargs):
        import torch._dynamo
        limit = max(RECOMPILE_LIMIT, torch._dynamo.config.recompile_limit)
        with torch._dynamo.config.patch(recompile_limit=limit):
            return self.compiled_call(*args, **kwargs)


def set_compile(model, kwargs):
    """Compile the student of ``model`` (a UDA wrapper or a segmentor) in place with
    ``kwargs`` (parse_compile's result; None: nothing). Returns ``model``.

    Raises RuntimeError for the 'inductor' backend without a C++ compiler.
    """
    if kwargs is None:
        return model
    check_compile_backend(kwargs)
    for module in compile_targets(_student(model)).values():
        module.compile(**kwargs)
        module._compiled_call_impl = RecompileLimit(module._compiled_call_impl)
    return model


def is_compiled(module):
    """Whether ``module`` was compiled in place (``nn.Module.compile``)."""
    return getattr(module, '_compiled_call_impl', None) is not None
