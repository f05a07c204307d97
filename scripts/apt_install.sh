#!/usr/bin/env bash
# Install Debian packages a group of tests needs when its commands are missing; safe to run again. Without root or
# apt-get it says in one line that those tests will be skipped, and exits 0 (the tests skip themselves).
#   scripts/apt_install.sh "<the tests>" "<command> <command> ..." <package> <package> ...
set -uo pipefail
if [ $# -lt 3 ]; then
    echo "usage: $0 \"<the tests>\" \"<commands>\" <package>..." >&2
    exit 2
fi
purpose=$1 commands=$2
shift 2
missing=0
for command in $commands; do
    command -v "$command" >/dev/null 2>&1 || missing=1
done
[ "$missing" = 0 ] && exit 0
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "[setup] $* not installed and cannot be installed here (needs root and apt-get): $purpose will be skipped" >&2
    exit 0
fi
echo "[setup] installing Debian's $* for $purpose (first time: about a minute)"
log=$(mktemp)
if ! { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$@"; } \
        >"$log" 2>&1; then
    tail -n 20 "$log"
    echo "[setup] apt-get could not install $* (log above): $purpose will be skipped" >&2
fi
rm -f "$log"
