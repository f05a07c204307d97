"""The status page of a build (``book/_generated/status.md`` and ``status.json``): its parameters, the versions and
device it ran with, each chapter's run time, and every model with its metrics."""

from __future__ import annotations

import html
import os
import platform
from pathlib import Path

from ..config import variant_spec
from ..data.datasets import stands_for
from ..data.paths import REPO_ROOT
from ..data.files import atomic_write_bytes, save_json
from ..engine.store import RunRecord
from ..experiments.configs import GALLERY_MULTIPLE, REMOVALS, schema_of
from ..experiments.parameters import DEFAULT_ABLATION_SEEDS, BookParameters


def parameter_cells(parameters: BookParameters) -> dict[str, str]:
    """The build's parameters as the status page shows them: an unset one (None) as the value it stands for."""
    values = parameters.to_dict()
    values["execution"] = ", ".join(f"{k}={v}" for k, v in values["execution"].items() if v is not None)
    unset = {"dataset_file": "– (not a dataset of your own)",
             "data_root": "– (the default: $APR_DATA_ROOT, else ../shared/data)",
             "ablation_seeds": f"{parameters.ablation_runs} (the default: {DEFAULT_ABLATION_SEEDS}, at most seeds)",
             "leave_one_out": f"{str(parameters.trains_leave_one_out).lower()} (the scale's default)",
             "epochs": f"{parameters.main_config().epochs} (the scale's default)",
             "gallery_multiple": ("– (the paper's four Market-1501+500k sizes)"
                                  if (parameters.dataset, parameters.scale) == ("market1501", "paper")
                                  else f"{GALLERY_MULTIPLE[parameters.scale]:g} (the scale's default)"),
             "figures_dir": f"{_repo_relative(str(parameters.figures))} (the default)"}
    return {k: unset.get(k, "–") if v is None else v for k, v in values.items()}


def write_status_page(status: dict, records: list[RunRecord], generated: Path) -> Path:
    """``book/_generated/status.md`` (and ``status.json``): parameters, versions, device and run times."""
    import torch
    import torchvision

    device = records[0].info["provenance"] if records else {}
    versions = {"python": platform.python_version(), "torch": torch.__version__, "torchvision": torchvision.__version__,
                "jupyter-book": _version("jupyter-book"), "papermill": _version("papermill"),
                "code": device.get("code", {}).get("commit")}
    # The folders the book's models read their images from (the pretraining population apart).
    dataset = status["parameters"].get("dataset")
    roots = [rec.info.get("dataset_root") for rec in records if rec.config.dataset == dataset]
    status |= {"images_from": sorted({r for r in roots if r}), "versions": versions,
               "device": {k: device.get(k) for k in ("device", "device_name", "torch_threads")},
               "cpu_cores": os.cpu_count()}
    generated.mkdir(parents=True, exist_ok=True)
    save_json(generated / "status.json", status)
    lines = ["# Status of this build", "",
             "Written by `python -m apr book` after it ran every chapter; everything here was measured by that run.",
             "",
             "## Parameters", "", "| parameter | value |", "|---|---|"]
    lines += [f"| {k} | {cell(v)} |" for k, v in status["parameters"].items()]
    lines += [f"| images read from | {cell(_repo_relative(root))} |" for root in status["images_from"]]
    lines += ["", "## Versions and device", "", "| what | value |", "|---|---|"]
    lines += [f"| {k} | {cell(v)} |" for k, v in versions.items()]
    lines += [f"| device | {cell(status['device'].get('device'))} ({cell(status['device'].get('device_name'))}) |",
              f"| CPU cores / torch threads per training process | {status['cpu_cores']} / "
              f"{status['device'].get('torch_threads')} |"]
    lines += ["", "## Run time", "", f"Models trained or reused: {status['models']}, in {status['training_s']:.0f} s "
              "(0 s when all came from the cache).", "", "| chapter | seconds |", "|---|---|"]
    lines += [f"| {c['chapter']} | {c['seconds']:.1f} |" for c in status["chapters"]]
    lines += [f"| **whole build before the HTML** | **{status['total_s']:.0f}** |", "",
              "## Models", ""]
    shared = {"backbone": {c.config.backbone for c in records},
              "input": {f"{c.config.image_size[0]}x{c.config.image_size[1]}" for c in records}}
    every = ", ".join(f"{k} {'/'.join(sorted(v))}" for k, v in shared.items())
    lines += ["Every model: " + every + ". *Evaluated on*: "
              "the test split, or the validation split of the λ sweep (training identities held out of its training). "
              "*run*: "
              "the cache folder is `<variant>-<run>` under the results cache.", "",
              "| run | variant | reading | seed | epochs | λ | left out | evaluated on | rank-1 (%) | mAP (%) | "
              "training time (s) |", "|---|---|---|---|---|---|---|---|---|---|---|"]
    for rec in records:
        c, m = rec.config, rec.metrics
        spec = variant_spec(c.variant)
        lam = f"{c.lambda_id:g}" if spec.weighs_losses else "–"    # the others train one loss: no λ
        reading = c.attribute_loss_reduction if spec.weighs_losses and spec.attribute_loss else "–"
        split = "validation" if c.validation_ids else "test"
        lines.append(f"| `{rec.run_dir.name.rsplit('-', 1)[-1]}` | {c.variant} | {reading} | {c.train_seed} | "
                     f"{c.epochs} | {lam} | "
                     f"{cell(_left_out(c))} | {split} | "
                     f"{100 * m['rank1']:.2f} | {100 * m['mAP']:.2f} | {rec.info['timings']['train_s']:.0f} |")
    path = generated / "status.md"
    atomic_write_bytes(path, lambda h: h.write(("\n".join(lines) + "\n").encode()))
    return path


# Characters that Markdown may read as markup, escaped with a backslash (HTML's are made entities).
MARKDOWN_PUNCTUATION = set("\\`*_[]{}()#+!~$")


def cell(value: object) -> str:
    """``value`` as the text of one Markdown table cell, shown as written: the folder names and versions on this page
    come from run folders and the user's settings, so neither HTML nor Markdown in them may take effect, and a ``|``
    must not end the cell."""
    text = "".join("\\" + ch if ch in MARKDOWN_PUNCTUATION else ch for ch in str(value).replace("\n", " "))
    return html.escape(text, quote=False).replace("|", "&#124;")


def _left_out(config) -> str:
    """The attributes a leave-one-out run removed, by the name Fig. 6 gives them ("bag (all types)")."""
    schema = schema_of(config.dataset)
    if config.attributes is None or schema is None or not config.uses_attributes:
        return "–"
    removed = tuple(n for n in schema.names if n not in config.attributes)
    names = {frozenset(v): k for k, v in REMOVALS.get(stands_for(config.dataset),
                                                   {}).items()}
    return names.get(frozenset(removed), ", ".join(removed))


def _repo_relative(path: str) -> str:
    """``path`` relative to the checkout when it lies inside it (no build machine's absolute path on a page)."""
    try:
        return str(Path(path).resolve().relative_to(REPO_ROOT))
    except ValueError:
        return path


def _version(package: str) -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(package)
    except PackageNotFoundError:
        return None
