"""Run many command lines of the repository's scripts, each in its own forked process, after
importing torch, mmcv and mmseg once (a fresh Python start with torch costs seconds a command).

    python tests/tools/cli_fork_runner.py CASES.json RESULTS.json

CASES.json: ``{name: {"argv": [script, arg, ...], "cwd": folder, "env": {...}}}``. Each child
changes to ``cwd``, runs ``script`` as ``__main__`` with ``sys.argv = argv`` (as
``python script arg ...`` does) and exits as the interpreter would: the status of a SystemExit,
1 and a traceback for any other exception. RESULTS.json: ``{name: {"returncode", "stdout",
"stderr"}}``.
"""
import json
import os
import os.path as osp
import runpy
import sys
import tempfile
import traceback


def _exit_status(code):
    """The status a SystemExit(code) gives (a message is printed to stderr, status 1)."""
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    print(code, file=sys.stderr)
    return 1


def _child(case, out_path, err_path):
    """In the forked process: redirect 1 and 2, run the script, exit with its status."""
    for fd, path in ((1, out_path), (2, err_path)):
        file_fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
        os.dup2(file_fd, fd)
        os.close(file_fd)
    status = 1
    try:
        os.chdir(case['cwd'])
        os.environ.update(case.get('env', {}))
        script = osp.abspath(case['argv'][0])
        sys.argv = [script] + case['argv'][1:]
        sys.path[0] = osp.dirname(script)  # as `python script` sets it
        runpy.run_path(script, run_name='__main__')
        status = 0
    except SystemExit as exit_request:
        status = _exit_status(exit_request.code)
    except BaseException:  # noqa: B902 (reported as the interpreter does)
        traceback.print_exc()
        status = 1
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(status)


def run_cases(cases):
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, case in cases.items():
            out_path, err_path = osp.join(tmp, 'out'), osp.join(tmp, 'err')
            sys.stdout.flush()
            sys.stderr.flush()
            pid = os.fork()
            if pid == 0:
                _child(case, out_path, err_path)
            _, wait_status = os.waitpid(pid, 0)
            with open(out_path) as out, open(err_path) as err:
                results[name] = dict(returncode=os.waitstatus_to_exitcode(wait_status),
                                     stdout=out.read(), stderr=err.read())
    return results


def main():
    cases_file, results_file = sys.argv[1:3]
    repo = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
    sys.path[0] = repo
    # What every entry point imports, once for all children.
    import mmseg  # noqa: F401  (first: it silences mmcv 1.7's rename notice)
    import mmseg.apis  # noqa: F401
    import mmseg.datasets  # noqa: F401
    import mmseg.models  # noqa: F401
    import torch  # noqa: F401
    with open(cases_file) as f:
        cases = json.load(f)
    results = run_cases(cases)
    with open(results_file, 'w') as f:
        json.dump(results, f)


if __name__ == '__main__':
    main()
