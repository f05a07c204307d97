#!/usr/bin/env bash
# Create (or reuse) the project's virtual environment in .venv and install apr with every
# extra, pinned by constraints.txt. Safe to run again: it only installs what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
    echo "[setup] creating .venv with $($PYTHON --version)"
    "$PYTHON" -m venv .venv
fi
stamp=.venv/.apr-installed
want=$(cat pyproject.toml constraints.txt | sha256sum | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    # torch 2.14.1 is a CUDA build: the environment takes ~6.2 GB. Say so before pip fails halfway.
    need_kb=$((7 * 1024 * 1024))
    free_kb=$(df -Pk .venv | awk 'NR==2 {print $4}')
    if [ "${free_kb:-0}" -lt "$need_kb" ]; then
        echo "[setup] .venv needs about 7 GB free on $(df -P .venv | awk 'NR==2 {print $6}'); only $((free_kb / 1024)) MB are free" >&2
        exit 1
    fi
    echo "[setup] installing apr[dev] (first time: a few minutes; the environment takes ~6.2 GB)"
    log=.venv/install.log
    # pip's own chatter (index warnings, build-backend notices) goes to a log; shown on failure
    if ! { .venv/bin/python -m pip install -q --upgrade pip &&
           .venv/bin/python -m pip install -q --no-cache-dir -c constraints.txt -e ".[dev]"; } >"$log" 2>&1; then
        tail -n 40 "$log"
        echo "[setup] pip install failed; full log in $log" >&2
        exit 1
    fi
    echo "$want" > "$stamp"
else
    echo "[setup] .venv is up to date"
fi
