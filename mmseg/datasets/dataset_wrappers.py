"""A list of datasets trained as one (several sources; docs/domains.md)."""
from torch.utils.data import ConcatDataset as _TorchConcatDataset

from mmseg.utils.errors import UserInputError

__all__ = ['ConcatDataset']


class ConcatDataset(_TorchConcatDataset):
    """torch's ConcatDataset that also carries the CLASSES, PALETTE and ignore_index of its
    parts, which must agree (checkpoint meta, consistency checks, evaluation).

    ``key`` names the config entry (a list) in the error raised when two parts differ
    (``UserInputError``).
    """

    def __init__(self, datasets, key='datasets'):
        super().__init__(datasets)
        first = self.datasets[0]
        for i, dataset in enumerate(self.datasets[1:], 1):
            for name in ('CLASSES', 'ignore_index'):
                a, b = getattr(first, name, None), getattr(dataset, name, None)
                if (tuple(a) if name == 'CLASSES' and a is not None else a) != \
                        (tuple(b) if name == 'CLASSES' and b is not None else b):
                    raise UserInputError(
                        f'{key}[0] and {key}[{i}] have different {name}: {a} vs {b}; the '
                        f'datasets of a list are used as one and must share their classes')
        self.CLASSES = getattr(first, 'CLASSES', None)
        self.PALETTE = getattr(first, 'PALETTE', None)
        self.ignore_index = getattr(first, 'ignore_index', 255)
