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
    echo "[setup] installing apr[dev] (first time: a few minutes, ~1.3 GB of wheels)"
    log=.venv/install.log
    # pip's own chatter (index warnings, build-backend notices) goes to a log; shown on failure
    if ! { .venv/bin/python -m pip install -q --upgrade pip &&
           .venv/bin/python -m pip install -q -c constraints.txt -e ".[dev]"; } >"$log" 2>&1; then
        tail -n 40 "$log"
        echo "[setup] pip install failed; full log in $log" >&2
        exit 1
    fi
    echo "$want" > "$stamp"
else
    echo "[setup] .venv is up to date"
fi
