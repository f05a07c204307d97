#!/usr/bin/env bash
# Install Debian's Chromium for the book's browser test (tests/test_book.py) when it is missing. Safe to run
# again. Without root or a package index the test is skipped, and this says so in one line.
set -uo pipefail
if command -v chromium >/dev/null 2>&1; then
    exit 0
fi
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "[setup] chromium is not installed and cannot be installed here (needs root and apt-get): the browser test will be skipped" >&2
    exit 0
fi
echo "[setup] installing Debian's chromium for the browser test (first time: about a minute)"
log=$(mktemp)
if ! { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium; } >"$log" 2>&1; then
    tail -n 20 "$log"
    echo "[setup] apt-get could not install chromium (log above): the browser test will be skipped" >&2
fi
rm -f "$log"
