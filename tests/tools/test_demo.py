"""tools/demo.py: the console shows the tables and a summary whose mIoU is the table's."""
from prettytable import PrettyTable

from tools.demo import class_ious, comparison_table, evaluation_tables, summary_value


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


def _per_class_output(ious):
    per_class = PrettyTable()
    per_class.add_column('Class', list(ious))
    per_class.add_column('IoU', list(ious.values()))
    per_class.add_column('Acc', [99.0] * len(ious))
    summary = PrettyTable()
    for key, value in (('aAcc', 80.5), ('mIoU', 50.0), ('mAcc', 30.1)):
        summary.add_column(key, [value])
    return f'per class results:\n\n{per_class}\nSummary:\n\n{summary}\n'


def test_class_ious_reads_the_per_class_table_only():
    tables = evaluation_tables(_per_class_output({'road': 89.7, 'sky': 71.0, 'train': 'nan'}))
    assert class_ious(tables) == {'road': 89.7, 'sky': 71.0, 'train': None}
    assert class_ious('') == {}


def test_comparison_table_puts_source_only_beside_mic():
    mic = {'road': 90.0, 'sky': 48.5, 'train': None}
    table = comparison_table({'road': 69.25, 'sky': 23.0, 'train': None}, mic)
    rows = {row[0]: row[1:] for row in table.rows}
    assert table.field_names == ['Class', 'source-only', 'MIC(DAFormer)', 'MIC - source-only']
    assert rows == {'road': ['69.25', '90.00', '+20.75'], 'sky': ['23.00', '48.50', '+25.50'],
                    'train': ['-', '-', '-']}
    # Without per-class source-only figures (the recorded reference) its column is empty.
    assert [row[1] for row in comparison_table(None, mic).rows] == ['-', '-', '-']
