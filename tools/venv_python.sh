#!/bin/sh
# Prints the Python that mic-seg's shell tools run (test.sh, tools/dist_train.sh,
# tools/dist_test.sh): $PYTHON when set, else the project's .venv (so it need not be
# activated), else python3, else python on PATH.
if [ -n "${PYTHON:-}" ]; then
    echo "$PYTHON"
elif [ -x "$(cd "$(dirname "$0")/.." && pwd)/.venv/bin/python" ]; then
    echo "$(cd "$(dirname "$0")/.." && pwd)/.venv/bin/python"
elif command -v python3 >/dev/null 2>&1; then
    echo python3
else
    echo python
fi
