#!/usr/bin/env bash
# Train on NUM_PROCS processes of this machine (one per GPU; on CPU, gloo) with torchrun:
#   tools/dist_train.sh CONFIG NUM_PROCS [tools/train.py arguments]
#   PYTHON=/path/to/python tools/dist_train.sh ...   # another interpreter (default: .venv)
#   PORT=29501 tools/dist_train.sh ...   # another rendezvous port (default 29500)
set -e
if [ "$#" -lt 2 ]; then
    echo "usage: $0 CONFIG NUM_PROCS [train args]" >&2
    exit 2
fi
CONFIG=$1
NUM_PROCS=$2
PORT=${PORT:-29500}
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
PYTHON=$("$ROOT/tools/venv_python.sh")  # $PYTHON, else .venv, else python3
shift 2
PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}" exec "$PYTHON" -m torch.distributed.run \
    --nproc_per_node="$NUM_PROCS" --master_port="$PORT" \
    "$ROOT/tools/train.py" "$CONFIG" --launcher pytorch "$@"
