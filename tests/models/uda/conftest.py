"""Fixtures of the UDA method tests (helpers live in uda_helpers.py)."""
import pytest

from uda_helpers import make_uda_batch, tiny_encoder_decoder_cfg


@pytest.fixture
def model_cfg():
    return tiny_encoder_decoder_cfg()


@pytest.fixture
def uda_batch():
    return make_uda_batch()
