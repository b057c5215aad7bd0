"""TensorLogBuffer: losses kept as tensors, read at log time to the same numbers as floats."""
import numpy as np
import torch
from mmcv.runner import LogBuffer

from mmseg.core.log_buffer import TensorLogBuffer, tensors_to_floats


def test_tensor_averages_equal_the_float_averages_of_mmcv():
    generator = torch.Generator().manual_seed(0)
    values = torch.rand(7, 2, generator=generator) * 10  # float32, as the losses are
    counts = [2, 2, 1, 2, 2, 2, 2]
    tensor_buffer, float_buffer = TensorLogBuffer(), LogBuffer()
    for row, count in zip(values, counts):
        tensor_buffer.update({'loss_seg': row[0], 'acc_seg': row[1], 'time': 0.5}, count)
        float_buffer.update({'loss_seg': row[0].item(), 'acc_seg': row[1].item(),
                             'time': 0.5}, count)
    tensor_buffer.average(4)
    float_buffer.average(4)
    assert dict(tensor_buffer.output) == dict(float_buffer.output)  # bit for bit
    # by hand: the count-weighted mean of the last 4 float32 values, in float64
    last = values[3:, 0].double().numpy()
    expected = np.sum(last * np.array(counts[3:])) / sum(counts[3:])
    assert tensor_buffer.output['loss_seg'] == expected
    assert all(isinstance(v, float) for v in tensor_buffer.val_history['loss_seg'])


def test_values_are_detached_and_converted_once():
    buffer = TensorLogBuffer()
    leaf = torch.tensor(3.0, requires_grad=True)
    buffer.update({'loss': leaf * 2})
    assert not buffer.val_history['loss'][0].requires_grad
    buffer.average()
    buffer.update({'loss': torch.tensor(1.0)})
    buffer.average()
    assert buffer.val_history['loss'] == [6.0, 1.0]
    assert buffer.output['loss'] == 3.5


def test_tensors_to_floats_keeps_other_entries_and_vectors():
    out = tensors_to_floats([1, torch.tensor(0.1), 'x', torch.tensor([1.5, 2.5]),
                             torch.tensor(7, dtype=torch.int32)])
    assert out == [1, torch.tensor(0.1).item(), 'x', [1.5, 2.5], 7.0]
