"""tools/demo.py: the console shows the tables and a summary whose mIoU is the table's."""
from prettytable import PrettyTable

from tools.demo import evaluation_tables, summary_value


def _test_output():
    per_class = PrettyTable()
    per_class.add_column('Class', ['road', 'sky'])
    per_class.add_column('IoU', [89.7, 71.0])
    summary = PrettyTable()
    for key, value in (('aAcc', 80.5), ('mIoU', 19.67), ('mAcc', 30.1)):
        summary.add_column(key, [value])
    return ('Loaded 20 images\n[>>>>] 20/20, 3.0 task/s, elapsed: 7s, ETA:     0s\n'
            f'per class results:\n\n{per_class}\nSummary:\n\n{summary}\n')


def test_tables_and_miou_are_read_from_the_test_output():
    tables = evaluation_tables(_test_output())
    assert tables.startswith('per class results:') and 'ETA' not in tables
    assert '|  road | 89.7 |' in tables
    assert summary_value(tables) == 19.67
    assert summary_value(tables, 'mAcc') == 30.1
    assert summary_value('no tables here') is None
