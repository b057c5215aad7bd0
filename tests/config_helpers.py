"""Helpers shared by the config tests (tests/test_configs.py, tests/test_experiments.py)."""
import mmcv.utils.config as mmcv_config

__all__ = ['unformatted_config_text']


def _compile_only(text, style_config=None, **kwargs):
    compile(text, '<config>', 'exec')  # what yapf parses first: raises SyntaxError likewise
    return text, False


def unformatted_config_text(cfg):
    """``cfg.pretty_text`` without its yapf formatting pass (about 1 s a config on a small CPU).

    Returns the text that mmcv hands to yapf, after checking that it compiles as Python. yapf
    only re-wraps that text, so a search for a name in it finds what a search of pretty_text
    finds. Raises SyntaxError where pretty_text's yapf call would fail to parse the text.
    """
    format_code = mmcv_config.FormatCode
    mmcv_config.FormatCode = _compile_only
    try:
        return cfg.pretty_text
    finally:
        mmcv_config.FormatCode = format_code
