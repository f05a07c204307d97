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


def test_torchvision_is_an_extra_so_that_pip_keeps_the_users_torch():
    """pip picks torchvision's newest release, which pins the newest torch: a required torchvision would replace a
    torch that has no torchvision beside it. The dev and book environments still get it (constraints.txt pins)."""
    extras = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    assert "torchvision" not in {r.name for r in _dependencies()}
    assert [Requirement(r).name for r in extras["vision"]] == ["torchvision"] and "vision" in extras["dev"][0]


def test_the_cli_names_the_torchvision_that_pairs_with_the_users_torch(tmp_path, monkeypatch):
    from importlib import metadata

    from apr.cli import torchvision_problem

    versions = {"torch": "2.9.0+cu128"}

    def version(name):
        if name not in versions:
            raise metadata.PackageNotFoundError(name)
        return versions[name]

    monkeypatch.setattr(metadata, "version", version)
    assert torchvision_problem() == ("apr needs torchvision, which is not installed: for your torch 2.9.0+cu128, "
                                     "pip install 'torchvision==0.24.*'")
    versions["torchvision"] = "0.24.1"
    assert torchvision_problem() is None
    monkeypatch.undo()
    # A real environment whose torch (2.9.0) and torchvision (this one's 0.29.1) do not pair: one line, exit 1.
    python = _venv_with(tmp_path, {"torch": ANOTHER["torch"]})
    proc = subprocess.run([str(python), "-m", "apr", "--help"], capture_output=True, text=True,
                          env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"})
    assert proc.returncode == 1 and proc.stderr.strip().splitlines() == [
        "error: torchvision 0.29.1 is built for another torch than your 2.9.0: pip install 'torchvision==0.24.*'"]


def test_an_installed_apr_writes_where_the_user_works(tmp_path):
    """Not editable: the package is copied into the venv's site-packages, and nothing may be written there."""
    python = _venv_with(tmp_path, {})
    install = subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet", "--no-index",
                              "--no-deps", "--no-build-isolation", "--no-cache-dir", str(REPO)],
                             capture_output=True, text=True, cwd=tmp_path)
    assert install.returncode == 0, install.stdout + install.stderr
    # The caller's environment stays out (a PYTHONPATH naming a checkout would import that instead).
    env = {"PATH": "/usr/bin:/bin", "OMP_NUM_THREADS": "1", "APR_DATA_ROOT": str(tmp_path / "no-data")}
    site = Path(subprocess.run([str(python), "-c", "import apr, pathlib; print(pathlib.Path(apr.__file__).parents[1])"],
                               check=True, capture_output=True, text=True, cwd=tmp_path, env=env).stdout.strip())
    assert site.name == "site-packages" and site != REPO
    work = tmp_path / "work"
    work.mkdir()
    (tmp_path / "no-data").mkdir()
    train = subprocess.run([str(python), "-m", "apr", "train", "--scale", "smoke", "--device", "cpu", "--no-eval",
                            "--quiet"], capture_output=True, text=True, cwd=work, env=env, timeout=600)
    assert train.returncode == 0, train.stdout + train.stderr
    assert [p.name for p in (work / "runs").iterdir()][0].startswith("apr-")       # the run folder, here
    assert (work / "data" / "synthetic").is_dir()                                   # the drawn data set, here
    assert not (site / "runs").exists() and not (site / "data").exists()
    book = subprocess.run([str(python), "-m", "apr", "book", "--scale", "smoke", "--no-html"], capture_output=True,
                          text=True, cwd=work, env=env)
    assert book.returncode == 1 and len(book.stderr.strip().splitlines()) == 1
    assert "not part of an installed apr" in book.stderr and "make book" in book.stderr
