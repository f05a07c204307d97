"""``BookParameters``: the settings of one book build, with their defaults in one place.

The Makefile, the CLI (``python -m apr book``) and every chapter take their defaults from here. A build makes one
``BookParameters`` and passes it whole: to the chapters as the papermill parameter ``parameters`` (a dict, see
:meth:`BookParameters.to_dict`), to everything that decides what the book trains
(:mod:`apr.experiments.configs`), to the status page and the scorecard.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..config import PRESETS, APRConfig, device_problem, from_params, in_reading
from ..data.datasets import ATTRIBUTE_ONLY_DATASETS, CUSTOM_DATASETS, REID_DATASETS, is_synthetic
from ..data.paths import FIGURES, REPO_ROOT, resolve_data_root
from .execution import Execution, is_whole

# APR's ablations, the sweeps' seeded points and Fig. 8's runs get this many training seeds unless
# ``ablation_seeds`` says otherwise, but never more than ``seeds``: they are compared with APR's first runs.
DEFAULT_ABLATION_SEEDS = 3
TABLE1_VARIANTS = ("ide", "arn", "apr")   # the models trained with ``seeds`` training seeds
# Eq. 6's attribute term, λ·L_ID + (1 − λ)·(1/m)·Σ_j L_attr^j as printed ("mean"), or with each attribute weighing
# 1 − λ ("sum"; errata, item 15). The book trains APR in both; the default is the reading under which APR − ARN mean
# attribute accuracy came nearest the paper's Table 4 (+0.6) on the validation split (scripts/convergence_study.py).
READINGS = ("mean", "sum")
DEFAULT_READING = "sum"
READING_NAMES = {"mean": "Eq. 6 as printed", "sum": "attribute losses summed"}   # as the book's tables name them
# Fig. 6 trains one model per attribute left out, once each. At the quick scale such a model's smallest detectable
# change exceeds every change of the paper's Fig. 6, so no verdict on it can be a finding: the default book spends
# those models on the headline, and leave_one_out=True trains them.
LEAVE_ONE_OUT: dict[str, bool] = {"smoke": True, "quick": False, "paper": True}


@dataclass(frozen=True)
class BookParameters:
    """Every setting of one book build. The defaults build the committed book (``figures/``)."""

    dataset: str = "synthetic"           # market1501, dukemtmc, peta, synthetic, synthetic_duke or custom
    dataset_file: str | None = None      # dataset custom: the CSV listing its images (apr.data.custom)
    data_root: str | None = None         # folder of the datasets and annotation files (None: the default data root)
    scale: str = "quick"                 # smoke (CI), quick (2 CPU cores), paper (GPU, real data)
    device: str = "auto"                 # auto, cpu, cuda or cuda:N
    seed: int = 0                        # data seed: the synthetic set, its pretraining population, PETA's split
    seeds: int = 4                       # training seeds of IDE, ARN and APR (Table 1); intervals include them
    reading: str = DEFAULT_READING       # Eq. 6's attribute term in every APR model but the other reading's (READINGS)
    epochs: int | None = None            # the fine-tuning schedule of every model (None: the scale's preset)
    ablation_seeds: int | None = None    # training seeds of the ablations, seeded sweep points, Fig. 8 (None: 3)
    leave_one_out: bool | None = None    # train Fig. 6's models, one per attribute left out (None: LEAVE_ONE_OUT)
    gallery_multiple: float | None = None   # largest Fig. 8 gallery, times the test gallery (None: the scale's)
    figures_dir: str | None = None       # where figures go (None: figures/ for the defaults, else _build/figures/...)
    execution: Execution = Execution()   # where missing models train (not what they are: no figure depends on it)

    def __post_init__(self) -> None:
        if isinstance(self.execution, dict):      # as a chapter receives it (to_dict)
            object.__setattr__(self, "execution", Execution.from_dict(self.execution))
        bad = []
        if not isinstance(self.execution, Execution):
            bad.append(f"execution={self.execution!r}: expected an Execution (or its settings by name)")
        if self.dataset in ATTRIBUTE_ONLY_DATASETS:
            bad.append(f"dataset={self.dataset!r}: it has no re-ID protocol for the book to run on; the attribute-"
                       "recognition section trains on it when it is under the data root (DATA_ROOT)")
        elif self.dataset not in (*REID_DATASETS, *CUSTOM_DATASETS):
            bad.append(f"dataset={self.dataset!r}: expected one of {', '.join((*REID_DATASETS, *CUSTOM_DATASETS))}")
        if (self.dataset in CUSTOM_DATASETS) != (self.dataset_file is not None):
            bad.append(f"dataset_file={self.dataset_file!r}: names the CSV of dataset custom, and only of it")
        elif self.dataset_file is not None and not Path(self.dataset_file).is_file():
            bad.append(f"dataset_file={self.dataset_file!r}: no such file; expected the CSV of your dataset")
        if self.scale not in PRESETS:
            bad.append(f"scale={self.scale!r}: expected one of {', '.join(PRESETS)}")
        if device_problem(self.device) is not None:
            bad.append(device_problem(self.device))
        if not is_whole(self.seed) or self.seed < 0:
            bad.append(f"seed={self.seed!r}: expected a non-negative integer")
        if self.epochs is not None and (not is_whole(self.epochs) or self.epochs < 1):
            bad.append(f"epochs={self.epochs!r}: expected a whole number of epochs, at least 1, or None for the "
                       "scale's")
        if self.reading not in READINGS:
            bad.append(f"reading={self.reading!r}: expected mean (Eq. 6 as printed) or sum (errata, item 15)")
        if not is_whole(self.seeds) or self.seeds < 1:
            bad.append(f"seeds={self.seeds!r}: expected a whole number of training seeds, at least 1")
        elif self.ablation_seeds is not None and (not is_whole(self.ablation_seeds)
                                                  or not 1 <= self.ablation_seeds <= self.seeds):
            bad.append(f"ablation_seeds={self.ablation_seeds!r}: expected a whole number from 1 to seeds "
                       f"({self.seeds}), or None for the default")
        if self.leave_one_out is not None and not isinstance(self.leave_one_out, bool):
            bad.append(f"leave_one_out={self.leave_one_out!r}: expected true, false or None (the scale's default)")
        if self.gallery_multiple is not None and (isinstance(self.gallery_multiple, bool) or not isinstance(
                self.gallery_multiple, int | float) or not 1 < self.gallery_multiple <= 1000):
            bad.append(f"gallery_multiple={self.gallery_multiple!r}: expected the largest Fig. 8 gallery as a multiple "
                       "of the test gallery, above 1 (26.34 is the paper's 500k), or None")
        if self.data_root is not None and not isinstance(self.data_root, str | Path):
            bad.append(f"data_root={self.data_root!r}: expected a folder or None")
        elif self.dataset in REID_DATASETS and not is_synthetic(self.dataset):
            try:
                resolve_data_root(self.data_root)
            except FileNotFoundError as exc:
                bad.append(f"data_root={self.data_root!r}: {exc}")
        if bad:
            raise ValueError("book parameter " + "; ".join(bad))

    @classmethod
    def from_dict(cls, values: dict[str, Any] | None = None) -> BookParameters:
        """The parameters a chapter was given (papermill's ``parameters``); an unknown name is an error."""
        values = dict(values or {})
        names = [f.name for f in dataclasses.fields(cls)]
        unknown = sorted(set(values) - set(names))
        if unknown:
            raise ValueError(f"unknown book parameter(s) {', '.join(unknown)}; expected {', '.join(names)}")
        return cls(**values)

    def to_dict(self) -> dict[str, Any]:
        """Every parameter by name (what a chapter receives)."""
        return dataclasses.asdict(self)

    @property
    def ablation_runs(self) -> int:
        """Training seeds of APR's ablations, of the sweeps' seeded points and of Fig. 8's runs."""
        return self.ablation_seeds if self.ablation_seeds is not None else min(DEFAULT_ABLATION_SEEDS, self.seeds)

    @property
    def trains_leave_one_out(self) -> bool:
        """Whether the build trains Fig. 6's leave-one-out models (``leave_one_out``, else the scale's default)."""
        return self.leave_one_out if self.leave_one_out is not None else LEAVE_ONE_OUT.get(self.scale, True)

    def runs_for(self, variant: str) -> int:
        """How many training seeds ``variant`` gets: ``seeds`` for Table 1's IDE, ARN and APR, else
        :attr:`ablation_runs`."""
        return self.seeds if variant in TABLE1_VARIANTS else self.ablation_runs

    @property
    def other_reading(self) -> str:
        """The reading of Eq. 6 the book trains beside :attr:`reading`."""
        return next(r for r in READINGS if r != self.reading)

    def main_config(self, **overrides: Any) -> APRConfig:
        """The scale's preset on this build's dataset in the build's reading of Eq. 6 (APR unless ``variant=`` says
        otherwise)."""
        reading = overrides.pop("attribute_loss_reduction", self.reading)
        return in_reading(self.config_on(self.dataset, **overrides), reading)

    def config_on(self, dataset: str, **overrides: Any) -> APRConfig:
        """The scale's preset on ``dataset`` (another dataset of the data root, for the attribute tables)."""
        own_file = {"dataset_file": str(Path(self.dataset_file).resolve())} if dataset in CUSTOM_DATASETS else {}
        schedule = {"epochs": self.epochs} if self.epochs is not None else {}
        return from_params(self.scale, dataset=dataset, seed=self.seed, device=self.device, data_root=self.data_root,
                           **own_file, **(schedule | overrides))

    @property
    def is_default(self) -> bool:
        """Whether this is the build whose figures are committed (``figures/``)."""
        where = ("figures_dir", "execution")     # where figures go and models train, not what they are
        ours = {k: v for k, v in self.to_dict().items() if k not in where}
        return ours == {k: v for k, v in BookParameters().to_dict().items() if k not in where} or \
            ours == {k: v for k, v in BookParameters(ablation_seeds=DEFAULT_ABLATION_SEEDS).to_dict().items()
                     if k not in where}

    @property
    def figures(self) -> Path:
        """Where this build's figures and their data go: ``figures/`` for the defaults, else a folder of its own
        under ``_build/figures/`` (``figures_dir`` overrides both; a relative one is taken from the checkout)."""
        if self.figures_dir is not None:
            path = Path(self.figures_dir)
            return path if path.is_absolute() else REPO_ROOT / path
        if self.is_default:
            return FIGURES
        return REPO_ROOT / "_build" / "figures" / f"{self.dataset}-{self.scale}-seed{self.seed}"
