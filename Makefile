# Set-up and the two everyday commands. `make demo` and `make test` work on a fresh clone.
# PYTHON: the interpreter of the new .venv; left empty, tools/find_python.sh picks python3.11, else
# 3.12, 3.13, 3.10 (docs/INSTALL.md). VENV: another folder gives a second environment beside .venv.
PYTHON ?=
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
TEST_STAMP := $(VENV)/.installed-test

.PHONY: install test test-fast demo mutation clean

install: $(STAMP)

# mmcv 1.7.2 is an sdist whose setup.py imports pkg_resources: setuptools (<81) and wheel go in
# first, and everything is installed without build isolation. On Python 3.13 and newer
# tools/install_mmcv.py installs mmcv first (its setup.py needs a one-line fix there, PEP 667).
# Then mic-seg itself, editable (PEP 660), with the dependencies of pyproject.toml.
$(STAMP): pyproject.toml tools/find_python.sh tools/install_mmcv.py
	@test -x $(PY) || { python=$$(tools/find_python.sh "$(PYTHON)") && \
		echo "$(PY): $$($$python --version) ($$python)" && $$python -m venv $(VENV); }
	$(PY) -m pip install -q 'setuptools>=77,<81' wheel
	$(PY) tools/install_mmcv.py
	$(PY) -m pip install -q --no-build-isolation -e .
	touch $(STAMP)

# Test-only dependencies (pyproject.toml's `test` extra) on top of the runtime ones.
$(TEST_STAMP): $(STAMP)
	$(PY) -m pip install -q --no-build-isolation -e '.[test]'
	touch $(TEST_STAMP)

test: $(TEST_STAMP)
	$(PY) -m pytest -q tests

test-fast: $(TEST_STAMP)
	$(PY) -m pytest -q -m "not slow" tests

# Mutation testing (docs/CONTRIBUTING.md): mutmut mutates the pure-function modules listed in
# setup.cfg [mutmut] and runs the fast tests that cover each mutant; survivors are listed.
# Not part of `make test`; CPU-heavy (about an hour on 2 cores).
mutation: install
	$(PY) -m pip install -q 'mutmut==3.8.1'
	rm -rf mutants
	env -u PYTHONPATH OMP_NUM_THREADS=1 $(VENV)/bin/mutmut run --max-children 2
	$(VENV)/bin/mutmut results

demo: install
	$(PY) tools/demo.py

clean:
	rm -rf $(VENV) work_dirs/demo data/toy mutants
