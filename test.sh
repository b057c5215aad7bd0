#!/bin/sh
# Test a finished run: sh test.sh RUN_DIR  (POSIX sh; works with sh and bash)
# Uses the run's config RUN_DIR/<basename of RUN_DIR>.py (else the only .py in RUN_DIR) and
# RUN_DIR/latest.pth; writes the coloured predictions to RUN_DIR/preds and prints the mIoU.
# Extra arguments are passed on to tools/test.py.
if [ "$#" -lt 1 ]; then
    echo "usage: sh test.sh RUN_DIR [extra tools/test.py arguments]" >&2
    exit 2
fi
RUN_DIR=$1
shift
# Strip trailing slashes so that basename works on "work_dirs/run/".
while [ "$RUN_DIR" != "/" ] && [ "${RUN_DIR%/}" != "$RUN_DIR" ]; do
    RUN_DIR=${RUN_DIR%/}
done
if [ ! -d "$RUN_DIR" ]; then
    echo "test.sh: run folder $RUN_DIR not found" >&2
    exit 1
fi
RUN_NAME=$(basename "$RUN_DIR")
CONFIG="$RUN_DIR/$RUN_NAME.py"
if [ ! -f "$CONFIG" ]; then
    COUNT=0
    for candidate in "$RUN_DIR"/*.py; do
        [ -f "$candidate" ] || continue
        COUNT=$((COUNT + 1))
        CONFIG=$candidate
    done
    if [ "$COUNT" -ne 1 ]; then
        echo "test.sh: config $RUN_DIR/$RUN_NAME.py not found (and $COUNT other .py files" \
             "in $RUN_DIR, expected exactly one)" >&2
        exit 1
    fi
fi
CHECKPOINT="$RUN_DIR/latest.pth"
if [ ! -f "$CHECKPOINT" ]; then
    echo "test.sh: checkpoint $CHECKPOINT not found (has the run finished and saved one?)" >&2
    exit 1
fi
SHOW_DIR="$RUN_DIR/preds"
# tools/ and mmseg/ are imported from this repository; relative paths in the config (data roots)
# stay relative to the caller's folder, as with tools/test.py itself.
REPO_DIR=$(cd "$(dirname "$0")" && pwd)
PYTHON=$("$REPO_DIR/tools/venv_python.sh")  # $PYTHON, else .venv, else python3
PYTHONPATH="$REPO_DIR${PYTHONPATH:+:$PYTHONPATH}"
export PYTHONPATH
echo "Config: $CONFIG"
echo "Checkpoint: $CHECKPOINT"
echo "Predictions: $SHOW_DIR"
exec "$PYTHON" -m tools.test "$CONFIG" "$CHECKPOINT" --eval mIoU --show-dir "$SHOW_DIR" \
    --opacity 1 "$@"
