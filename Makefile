# Set-up and the two everyday commands. `make demo` and `make test` work on a fresh clone.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
TEST_STAMP := $(VENV)/.installed-test

.PHONY: install test test-fast demo mutation clean

install: $(STAMP)

# mmcv 1.7.2 is an sdist whose setup.py imports pkg_resources: setuptools (<81) and wheel go
# in first, then everything is installed without build isolation.
$(STAMP): requirements.txt setup.py
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q 'setuptools>=77,<81' wheel
	$(PY) -m pip install -q --no-build-isolation -r requirements.txt
	$(PY) -m pip install -q --no-build-isolation --no-deps -e .
	touch $(STAMP)

# Test-only dependencies (requirements-test.txt) on top of the runtime ones.
$(TEST_STAMP): $(STAMP) requirements-test.txt
	$(PY) -m pip install -q -r requirements-test.txt
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
