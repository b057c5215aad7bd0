#!/usr/bin/env bash
# Test a checkpoint on NUM_PROCS processes of this machine with torchrun:
#   tools/dist_test.sh CONFIG CHECKPOINT NUM_PROCS [tools/test.py arguments, e.g. --eval mIoU]
#   PYTHON=/path/to/python tools/dist_test.sh ...   # another interpreter (default: .venv)
#   PORT=29501 tools/dist_test.sh ...   # another rendezvous port (default 29500)
set -e
if [ "$#" -lt 3 ]; then
    echo "usage: $0 CONFIG CHECKPOINT NUM_PROCS [test args]" >&2
    exit 2
fi
CONFIG=$1
CHECKPOINT=$2
NUM_PROCS=$3
PORT=${PORT:-29500}
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
PYTHON=$("$ROOT/tools/venv_python.sh")  # $PYTHON, else .venv, else python3
shift 3
PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}" exec "$PYTHON" -m torch.distributed.run \
    --nproc_per_node="$NUM_PROCS" --master_port="$PORT" \
    "$ROOT/tools/test.py" "$CONFIG" "$CHECKPOINT" --launcher pytorch "$@"
