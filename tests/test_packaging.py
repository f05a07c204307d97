"""Installing apr beside a researcher's own torch keeps that torch (ranges in pyproject, exact pins elsewhere)."""

from __future__ import annotations

import subprocess
import sys
import sysconfig
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.version import Version

REPO = Path(__file__).resolve().parents[1]
ANOTHER = {"torch": "2.9.0", "torchvision": "0.24.0"}     # not the versions of constraints.txt


def _dependencies() -> list[Requirement]:
    return [Requirement(r) for r in tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]]


def test_the_package_pins_no_exact_versions():
    exact = [str(r) for r in _dependencies() if any(s.operator in ("==", "===") for s in r.specifier)]
    assert not exact, f"exact pins belong in constraints.txt, not [project].dependencies: {exact}"
    torch = next(r for r in _dependencies() if r.name == "torch")
    assert Version(ANOTHER["torch"]) in torch.specifier and Version("2.14.1") in torch.specifier


def _venv_with(tmp_path: Path, versions: dict[str, str]) -> Path:
    """A venv that sees this environment's packages, except that ``versions`` are installed in it (their metadata
    only: enough for pip's resolver, which reads versions, not code)."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    site = Path(subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               check=True, capture_output=True, text=True).stdout.strip())
    (site / "zz_outer_environment.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")  # after its own
    for name, version in versions.items():
        info = site / f"{name}-{version}.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
        (info / "RECORD").write_text(f"{info.name}/METADATA,,\n")
    return python


def test_pip_install_keeps_another_torch(tmp_path):
    python = _venv_with(tmp_path, ANOTHER)
    install = subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet", "--no-index",
                              "--no-build-isolation", "--no-cache-dir", str(REPO)],
                             capture_output=True, text=True, cwd=tmp_path)
    assert install.returncode == 0, install.stdout + install.stderr
    versions = subprocess.run([str(python), "-c", "import importlib.metadata as m; "
                               "print(m.version('torch'), m.version('torchvision'), m.version('apr'))"],
                              check=True, capture_output=True, text=True).stdout.split()
    assert versions == [ANOTHER["torch"], ANOTHER["torchvision"], "0.1.0"], versions
