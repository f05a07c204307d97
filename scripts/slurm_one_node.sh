#!/usr/bin/env bash
# A one-node Slurm cluster on this machine, in one folder: to try `apr book --executor slurm` before submitting to
# a real cluster, and for the test suite's Slurm tests (tests/test_slurm.py).
#
#   scripts/slurm_one_node.sh start DIR     start munged, slurmctld and slurmd with their state, logs and sockets in DIR
#   export SLURM_CONF=DIR/slurm.conf        then sbatch, squeue, scontrol and apr book --executor slurm use it
#   scripts/slurm_one_node.sh stop DIR      stop the daemons that `start DIR` started, and only those
#
# Needs root (slurmd runs jobs as their user) and Debian's slurmctld, slurmd, slurm-client and munge
# (scripts/setup_slurm.sh installs them). No accounting database: job states come from squeue. The partition is
# "cpu"; the node's name is this host's, its CPUs this machine's cores. Ports: the first free pair from 16817 on,
# so a system Slurm on the default ports is left alone.
set -euo pipefail

usage() { echo "usage: $0 start|stop DIR" >&2; exit 2; }
[ $# -eq 2 ] || usage
action=$1
dir=$(realpath -m "$2")

stop() {
    # Jobs first (their processes are slurmstepd's, not the daemons'), then each daemon by the pid file it wrote in
    # DIR, so a system Slurm on this machine is never touched.
    if [ -f "$dir/slurm.conf" ] && [ -f "$dir/slurmctld.pid" ] && kill -0 "$(cat "$dir/slurmctld.pid")" 2>/dev/null; then
        local jobs
        jobs=$(SLURM_CONF="$dir/slurm.conf" squeue -h -o %i 2>/dev/null || true)
        if [ -n "$jobs" ]; then
            # shellcheck disable=SC2086
            SLURM_CONF="$dir/slurm.conf" scancel $jobs 2>/dev/null || true
            for _ in $(seq 50); do
                [ -z "$(SLURM_CONF="$dir/slurm.conf" squeue -h -o %i -t pending,running,completing 2>/dev/null)" ] && break
                sleep 0.2
            done
        fi
    fi
    for name in slurmd slurmctld munged; do
        local file="$dir/$name.pid"
        [ -f "$file" ] || continue
        local pid
        pid=$(cat "$file")
        if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
            kill "$pid" 2>/dev/null || true
            for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
            kill -9 "$pid" 2>/dev/null || true
        fi
        rm -f "$file"
    done
}

free_port() {   # the first port from $1 on that nothing listens on, nor on the next one
    local port=$1
    while ss -Hltn "( sport = :$port or sport = :$((port + 1)) )" 2>/dev/null | grep -q .; do
        port=$((port + 2))
    done
    echo "$port"
}

start() {
    for tool in munged slurmctld slurmd sbatch squeue scontrol; do
        command -v "$tool" >/dev/null || { echo "$0: $tool is not installed (scripts/setup_slurm.sh installs it)" >&2; exit 3; }
    done
    [ "$(id -u)" = 0 ] || { echo "$0: a one-node Slurm needs root (slurmd starts jobs as their user)" >&2; exit 3; }
    mkdir -p "$dir/state" "$dir/spool" "$dir/jobs"
    chmod 700 "$dir"
    if [ ! -f "$dir/munge.key" ]; then
        head -c 1024 /dev/urandom > "$dir/munge.key"
        chmod 400 "$dir/munge.key"
    fi
    local host port cores
    host=$(hostname -s)
    cores=$(env -u OMP_NUM_THREADS -u OMP_THREAD_LIMIT nproc)   # nproc answers $OMP_NUM_THREADS when it is set
    port=$(free_port 16817)
    cat > "$dir/slurm.conf" <<EOF
ClusterName=apr-one-node
SlurmctldHost=$host
SlurmctldPort=$port
SlurmdPort=$((port + 1))
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
# cred_expire: also how long a requeued job waits before it may start again (default 120 s).
AuthInfo=socket=$dir/munge.socket,cred_expire=5
CredType=cred/munge
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/slurmctld.log
SlurmdLogFile=$dir/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
MpiDefault=none
MailProg=/bin/true
SwitchType=switch/none
SchedulerType=sched/builtin
# Look for startable jobs every second, not every minute: a requeued job starts once its wait is over.
SchedulerParameters=sched_interval=1
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
# Seconds between a job's SIGTERM and its SIGKILL: short, so that a preempted job leaves its node at once.
KillWait=2
SlurmdParameters=config_overrides
NodeName=$host NodeAddr=127.0.0.1 CPUs=$cores State=UNKNOWN
PartitionName=cpu Nodes=$host Default=YES MaxTime=INFINITE State=UP
EOF
    stop
    munged --force --key-file="$dir/munge.key" --socket="$dir/munge.socket" --pid-file="$dir/munged.pid" \
        --log-file="$dir/munged.log" --seed-file="$dir/munge.seed"
    export SLURM_CONF="$dir/slurm.conf"
    slurmctld -i   # -i: ignore state a killed earlier start may have left in DIR
    slurmd
    for _ in $(seq 100); do   # up when the node takes jobs
        if sinfo -h -o %T 2>/dev/null | grep -qE '^idle'; then
            echo "$dir/slurm.conf"
            return 0
        fi
        sleep 0.2
    done
    echo "$0: the node did not come up within 20 s; logs in $dir" >&2
    tail -n 5 "$dir/slurmctld.log" "$dir/slurmd.log" >&2 || true
    stop
    exit 1
}

case "$action" in
    start) start ;;
    stop) stop ;;
    *) usage ;;
esac
