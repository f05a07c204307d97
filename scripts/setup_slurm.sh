#!/usr/bin/env bash
# Install Debian's Slurm (slurmctld, slurmd, the client commands) and munge for the test suite's one-node cluster
# (tests/test_slurm.py, scripts/slurm_one_node.sh) when they are missing. Safe to run again. Without root or a
# package index the Slurm tests are skipped, and this says so in one line. Nothing is started here, and the
# packages' own services stay off: the tests start their daemons in a folder of their own and stop them after.
set -uo pipefail
if command -v slurmctld >/dev/null 2>&1 && command -v slurmd >/dev/null 2>&1 && command -v sbatch >/dev/null 2>&1 \
        && command -v munged >/dev/null 2>&1; then
    exit 0
fi
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "[setup] Slurm is not installed and cannot be installed here (needs root and apt-get): the Slurm tests will be skipped" >&2
    exit 0
fi
echo "[setup] installing Debian's slurmctld, slurmd, slurm-client and munge for the Slurm tests (first time: under a minute)"
log=$(mktemp)
if ! { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
        slurmctld slurmd slurm-client munge; } >"$log" 2>&1; then
    tail -n 20 "$log"
    echo "[setup] apt-get could not install Slurm (log above): the Slurm tests will be skipped" >&2
fi
rm -f "$log"
