"""The code style the project checks with a tool: ruff's rules in pyproject.toml (pycodestyle's errors, pyflakes, and
lines of at most 120 characters) hold over the whole checkout."""

from __future__ import annotations

import subprocess
import sys

import pytest

from apr.data.paths import REPO_ROOT


def test_ruff_finds_nothing_at_the_projects_rules():
    pytest.importorskip("ruff", reason="ruff comes with the test extra (pip install -e '.[test]')")
    found = subprocess.run([sys.executable, "-m", "ruff", "check", "--no-cache", str(REPO_ROOT)], cwd=REPO_ROOT,
                           capture_output=True, text=True, timeout=300)
    assert found.returncode == 0, found.stdout[-4000:] + found.stderr[-2000:]
