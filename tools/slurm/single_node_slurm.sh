#!/usr/bin/env bash
# A real one-node Slurm cluster on this machine (Debian's slurm-wlm), for trying and testing
# `run_experiments.py --machine slurm` without a cluster. Needs root; no systemd.
#
#   tools/slurm/single_node_slurm.sh start    # install if missing, start munged, slurmctld, slurmd
#   tools/slurm/single_node_slurm.sh status   # sinfo
#   tools/slurm/single_node_slurm.sh stop     # stop the daemons it started (by their pid files)
#
# The cluster lives in $MICSEG_SLURM_DIR (default /tmp/mic-seg-slurm), made fresh at each start:
# slurm.conf, state and spool folders, logs, pid files. Clients need its configuration:
#   export SLURM_CONF=$MICSEG_SLURM_DIR/slurm.conf
# Ports: $MICSEG_SLURMCTLD_PORT (default 6817) and $MICSEG_SLURMD_PORT (default 6818).
set -euo pipefail

DIR=${MICSEG_SLURM_DIR:-/tmp/mic-seg-slurm}
CTLD_PORT=${MICSEG_SLURMCTLD_PORT:-6817}
SLURMD_PORT=${MICSEG_SLURMD_PORT:-6818}
CONF=$DIR/slurm.conf
PACKAGES="slurmctld slurmd slurm-client munge"

die() { echo "single_node_slurm.sh: $*" >&2; exit 1; }

install_packages() {
    if command -v slurmctld >/dev/null && command -v slurmd >/dev/null \
            && command -v sbatch >/dev/null && command -v munged >/dev/null; then
        return
    fi
    [ "$(id -u)" = 0 ] || die "Slurm is not installed and installing it needs root ($PACKAGES)"
    command -v apt-get >/dev/null || die "Slurm is not installed and apt-get is not available"
    echo "installing $PACKAGES" >&2
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $PACKAGES >&2
}

# A process that runs (a zombie, not reaped where no init does it, counts as ended).
running() { [ -r "/proc/$1/stat" ] && [ "$(cut -d' ' -f3 "/proc/$1/stat")" != Z ]; }
pid_alive() { [ -f "$1" ] && running "$(cat "$1")"; }

start_munge() {
    if pid_alive /run/munge/munged.pid; then
        return  # a munged runs already (ours from an earlier start, or the system's)
    fi
    mkdir -p /run/munge /var/log/munge /var/lib/munge /etc/munge
    chown munge:munge /run/munge /var/log/munge /var/lib/munge
    if [ ! -s /etc/munge/munge.key ]; then
        dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 status=none
    fi
    chown munge:munge /etc/munge/munge.key
    chmod 400 /etc/munge/munge.key
    runuser -u munge -- /usr/sbin/munged
    touch "$DIR/munged.started-here"
}

write_conf() {
    local node
    node=$(slurmd -C | head -n 1)
    cat > "$CONF" <<CONF
ClusterName=micseg
SlurmctldHost=$(hostname -s)(127.0.0.1)
SlurmctldPort=$CTLD_PORT
SlurmdPort=$SLURMD_PORT
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
StateSaveLocation=$DIR/state
SlurmdSpoolDir=$DIR/spool
SlurmctldPidFile=$DIR/slurmctld.pid
SlurmdPidFile=$DIR/slurmd.pid
SlurmctldLogFile=$DIR/slurmctld.log
SlurmdLogFile=$DIR/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
MpiDefault=none
ReturnToService=2
SchedulerParameters=batch_sched_delay=0
$node State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
CONF
}

start() {
    [ "$(id -u)" = 0 ] || die "starting slurmctld and slurmd needs root"
    install_packages
    stop_daemons 2>/dev/null || true
    rm -rf "$DIR"
    mkdir -p "$DIR/state" "$DIR/spool"
    write_conf
    start_munge
    export SLURM_CONF=$CONF
    slurmctld -f "$CONF"
    slurmd -f "$CONF"
    for _ in $(seq 1 60); do
        if [ "$(sinfo -h -o %t 2>/dev/null | head -n 1)" = idle ]; then
            echo "Slurm is up: export SLURM_CONF=$CONF"
            return
        fi
        sleep 0.5
    done
    sinfo >&2 || true
    tail -n 20 "$DIR/slurmctld.log" "$DIR/slurmd.log" >&2 || true
    die "the node did not become idle within 30 s (logs in $DIR)"
}

stop_pid() {  # SIGTERM the process of a pid file, then wait up to 10 s for it to end
    local pid
    pid_alive "$1" || return 0
    pid=$(cat "$1")
    kill "$pid"
    for _ in $(seq 1 50); do
        running "$pid" || return 0
        sleep 0.2
    done
}

stop_daemons() {
    stop_pid "$DIR/slurmd.pid"
    stop_pid "$DIR/slurmctld.pid"
    if [ -f "$DIR/munged.started-here" ]; then
        stop_pid /run/munge/munged.pid
        rm -f "$DIR/munged.started-here"
    fi
}

case "${1:-}" in
    start) start ;;
    stop) stop_daemons ;;
    status) SLURM_CONF=$CONF sinfo ;;
    *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
