"""Tables 4–7 of one build: ARN and APR on every attribute dataset of the paper that the build can reach.

The build's own dataset gives its main runs (``SEEDS`` training runs of each). Every *other* dataset of the
paper found under the data root is trained here too, ARN and APR with the build's scale and seeds, so that
``make book DATA_ROOT=<folder>`` fills every row whose images are there:

* Market-1501 and DukeMTMC-reID: their image folders (the annotation files alone are not enough);
* PETA: its ten sub-dataset folders with ``archive/Label.txt``, re-split with the data seed;
* CUB-200-2011 (:mod:`apr.data.cub`): the 200 classes play the identities of APR's ID loss, and the 28
  attribute groups are its attributes; it has no re-ID protocol, so only attribute accuracy is measured.

A dataset that is absent is reported as such by :func:`apr.book.report.attribute_recognition_table`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from ..data.cub import find_cub_folder
from ..data.datasets import find_dataset_folder, stands_for
from ..data.paths import resolve_data_root
from .cache import RunRecord, load_or_train_many, stored_runs
from .configs import seeded_configs
from .parameters import BookParameters

# The datasets of the paper's attribute tables (Tables 4, 5, 6 and 7), in the paper's order.
PAPER_ATTRIBUTE_DATASETS = ("market1501", "dukemtmc", "peta", "cub200")
ATTRIBUTE_VARIANTS = ("arn", "apr")


def dataset_present(dataset: str, data_root: str | None) -> bool:
    """Whether the images of ``dataset`` (a key of :data:`PAPER_ATTRIBUTE_DATASETS`) are under the data root."""
    try:
        root = resolve_data_root(data_root)
        if dataset == "cub200":
            find_cub_folder(root)
        else:
            find_dataset_folder(dataset, root)
    except FileNotFoundError:          # DatasetLayoutError included
        return False
    return True


def other_attribute_runs(parameters: BookParameters, *, progress: bool = True,
                         train: bool = True) -> dict[str, dict[str, list[RunRecord]]]:
    """``{paper dataset: {"arn": runs, "apr": runs}}`` for every paper dataset but the one the build's dataset is or
    stands for whose images are under the data root, trained (or read from the store) with ``seeds`` training runs
    of ARN and APR each; empty when none is there. ``train=False``: read from the store only."""
    others = [key for key in PAPER_ATTRIBUTE_DATASETS
              if key != stands_for(parameters.dataset) and dataset_present(key, parameters.data_root)]
    configs = {(key, v): seeded_configs(parameters.config_on(key, variant=v), parameters.seeds)
               for key in others for v in ATTRIBUTE_VARIANTS}
    wanted = [c for group in configs.values() for c in group]
    records = []
    if wanted:
        records = (load_or_train_many(wanted, progress=progress, execution=parameters.execution) if train
                   else stored_runs(wanted))
    measured: dict[str, dict[str, list[RunRecord]]] = {}
    start = 0
    for (key, variant), group in configs.items():
        measured.setdefault(key, {})[variant] = records[start:start + len(group)]
        start += len(group)
    return measured


def attribute_recognition_runs(parameters: BookParameters, build_runs: Mapping[str, Sequence[RunRecord]], *,
                               progress: bool = True) -> dict[str, dict[str, list[RunRecord]]]:
    """``{dataset run: {"arn": runs, "apr": runs}}``: the build's dataset with its own ``build_runs``, then
    :func:`other_attribute_runs`."""
    return ({parameters.dataset: {v: list(build_runs[v]) for v in ATTRIBUTE_VARIANTS}}
            | other_attribute_runs(parameters, progress=progress))
