"""Fixtures for all model tests: the key/shape listing of the original HRDA segmentor."""
import re

import pytest


@pytest.fixture(scope='session')
def original_hrda_state_dict_shapes(shared_data):
    """{key: shape tuple} of the original HRDA(DAFormer sepaspp) + MiT-B5 segmentor (App. A)."""
    path = shared_data / 'hrda_daformer_sepaspp_mitb5_state_dict.txt'
    shapes = {}
    for line in path.read_text().splitlines():
        if not line.strip() or line.startswith('#'):
            continue
        key, shape = line.split(' ', 1)
        shapes[key] = tuple(int(v) for v in re.findall(r'\d+', shape))
    return shapes
