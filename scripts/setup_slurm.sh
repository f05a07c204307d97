#!/usr/bin/env bash
# Install Debian's Slurm (slurmctld, slurmd, the client commands) and munge for the test suite's one-node cluster
# (tests/test_slurm.py, scripts/slurm_one_node.sh) when they are missing. Safe to run again. Without root or a
# package index the Slurm tests are skipped, and this says so in one line. Nothing is started here, and the
# packages' own services stay off: the tests start their daemons in a folder of their own and stop them after.
exec bash "$(dirname "$0")/apt_install.sh" "the Slurm tests" "slurmctld slurmd sbatch munged" \
    slurmctld slurmd slurm-client munge
