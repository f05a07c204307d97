"""Where data lives: the data-root setting and the search for annotation files.

The data root is resolved in this order:

1. the ``data_root`` argument (CLI ``--data-root``, notebook parameter ``data_root``);
2. the environment variable ``APR_DATA_ROOT``;
3. the first existing default: ``<checkout>/../shared/data`` (the layout of developers and
   CI, which holds the released annotation files) and then ``data/`` under :func:`work_root`
   (the checkout, ``$APR_HOME``, or the current folder for an installed apr).

Under a data root, datasets sit in their usual extracted folders (``Market-1501-v15.09.15``,
``DukeMTMC-reID``, ``PETA``) and annotation files either beside the images or in
``market1501/`` and ``dukemtmc-reid/`` sub-folders (the layout of ``shared/data``).
"""

from __future__ import annotations

import os
from pathlib import Path

ENV_VAR = "APR_DATA_ROOT"
HOME_ENV = "APR_HOME"
REPO_ROOT = Path(__file__).resolve().parents[2]
# A source checkout (a clone, or an editable install of one) keeps its runs, data and book beside the code; an
# installed apr (pip install .) lives in site-packages, where nothing may be written.
IN_CHECKOUT = (REPO_ROOT / "pyproject.toml").is_file() and (REPO_ROOT / "apr").is_dir()


def work_root() -> Path:
    """Where apr writes run folders, its cache and generated data by default: ``$APR_HOME`` if set, else the
    checkout apr runs from, else the current folder (never an installed package's folder)."""
    if os.environ.get(HOME_ENV):
        return Path(os.environ[HOME_ENV]).expanduser().absolute()
    return REPO_ROOT if IN_CHECKOUT else Path.cwd()


WORK_ROOT = work_root()
FIGURES = REPO_ROOT / "figures"          # the book's, in a checkout (an installed apr has no book)
DEFAULT_ROOTS = (REPO_ROOT.parent / "shared" / "data", WORK_ROOT / "data")

# The folder name each dataset has once extracted from its official archive.
EXTRACTED_NAMES = {
    "market1501": ("Market-1501-v15.09.15", "Market-1501"),
    "dukemtmc": ("DukeMTMC-reID",),
    "peta": ("PETA", "PETA dataset"),
}

ANNOTATION_FILES = {"market1501": "market_attribute.mat", "dukemtmc": "duke_attribute.mat"}
ANNOTATION_SUBDIRS = {
    "market1501": ("market1501", "Market-1501_Attribute"),
    "dukemtmc": ("dukemtmc-reid", "DukeMTMC-attribute"),
}


def resolve_data_root(data_root: str | Path | None = None) -> Path:
    """Return the data root: the argument, else ``$APR_DATA_ROOT``, else a default.

    Raises
    ------
    FileNotFoundError
        If the chosen root does not exist (the message says where it came from).
    """
    if data_root is not None:
        root, source = Path(data_root).expanduser(), "data_root argument"
    elif os.environ.get(ENV_VAR):
        root, source = Path(os.environ[ENV_VAR]).expanduser(), f"${ENV_VAR}"
    else:
        for candidate in DEFAULT_ROOTS:
            if candidate.is_dir():
                return candidate
        tried = ", ".join(f"'{c}'" for c in DEFAULT_ROOTS)
        raise FileNotFoundError(f"no data root: pass data_root or set ${ENV_VAR} (defaults tried: {tried})")
    if not root.is_dir():
        raise FileNotFoundError(f"data root '{root}' (from {source}) is not a folder")
    return root


def find_annotation_file(dataset: str, dataset_root: Path | None = None,
                         data_root: str | Path | None = None) -> Path | None:
    """Look for the released attribute file of ``dataset`` and return its path, or None.

    Searched: the dataset folder itself, then the data root (directly and in the
    ``market1501/`` / ``dukemtmc-reid/`` sub-folders).
    """
    if dataset not in ANNOTATION_FILES:
        return None
    name = ANNOTATION_FILES[dataset]
    places: list[Path] = []
    if dataset_root is not None:
        places += [dataset_root, dataset_root.parent]
    try:
        root = resolve_data_root(data_root)
    except FileNotFoundError:
        root = None
    if root is not None:
        places += [root] + [root / sub for sub in ANNOTATION_SUBDIRS[dataset]]
    for place in places:
        if (place / name).is_file():
            return place / name
    return None
