"""get_root_logger: each run of a process writes its own text log."""
import logging

from mmseg.utils import get_root_logger


def test_a_second_run_in_the_same_process_gets_its_own_log_file(tmp_path):
    first, second = tmp_path / 'first.log', tmp_path / 'second.log'
    get_root_logger(log_file=str(first)).info('run one')
    get_root_logger(log_file=str(second)).info('run two')
    get_root_logger().info('still run two')  # no file given: the current file is kept
    get_root_logger(log_file=str(second)).info('run two again')  # same file: not reopened
    logger = logging.getLogger('mmseg')
    for handler in logger.handlers:
        handler.flush()
    assert 'run one' in first.read_text() and 'run two' not in first.read_text()
    text = second.read_text()
    assert 'run one' not in text
    assert [line.split(' - ')[-1] for line in text.splitlines()] == [
        'run two', 'still run two', 'run two again']
    assert sum(isinstance(h, logging.FileHandler) for h in logger.handlers) == 1
    for handler in [h for h in logger.handlers if isinstance(h, logging.FileHandler)]:
        logger.removeHandler(handler)
        handler.close()
