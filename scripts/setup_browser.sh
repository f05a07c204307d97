#!/usr/bin/env bash
# Install Debian's Chromium for the book's browser test (tests/test_book.py) when it is missing. Safe to run
# again. Without root or a package index the test is skipped, and this says so in one line.
exec bash "$(dirname "$0")/apt_install.sh" "the browser test" "chromium" chromium
