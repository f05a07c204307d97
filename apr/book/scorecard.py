"""The scorecard: the claim rows of :mod:`apr.book.claims` as ``claims.csv`` beside the figures, the forest plot of
every measured claim, and the book page ``claims.md``.

The page opens with the build (dataset, network, input size, epochs, seeds, device, the absolute rank-1 and mAP of
IDE and APR next to the paper's) and whether its models learned the attributes; then the forest plot, then the
rows of each group (claims about trained models, recounts of the released annotation files, claims that need the
paper's scale or data), each claim linked to the section of the chapter that shows it.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd

from ..data.files import atomic_write_bytes
from ..evaluation.stats import MEASURED_VERDICTS, Verdict
from ..experiments.cache import stored_runs
from ..experiments.configs import other_reading_configs, seeded_variant_configs
from ..experiments.parameters import READING_NAMES, BookParameters
from . import paper, verdicts
from .attribute_check import AttributeCheck
from .chapters.baselines import REASON_FILE
from .claims import ClaimGroup, as_multiple, build_attribute_check, claim_rows, claims_table
from .convergence import Convergence, book_convergence
from .plots import forest_figure, save_figure

PAPER_LINK = "[arXiv 1703.07220](https://arxiv.org/abs/1703.07220)"
READINGS = {"mean": "averaged over the attributes, as printed", "sum": "summed over the attributes"}
READINGS_BESIDE = {"mean": "with it averaged (as printed)", "sum": "with it summed"}
FOREST = "claims_forest"

INTRO: dict[ClaimGroup, str] = {
    ClaimGroup.TRAINED: (
        f"The verdicts: {verdicts.glossary()}. "
        "Each interval is a 95% interval over the training runs (*seeds*: runs of the first and second model; "
        "*paired*: run k of both shares training seed k) and the test "
        "queries, held against the paper's effect and against 0. *Smallest detectable*: the effect this build could "
        "tell from 0, its interval's half-width; *seeds needed*: the paired training seeds per model a build needs "
        "for an interval narrower than the paper's effect. *Same verdict on a rebuild*: the estimated share of "
        "rebuilds with as many seeds, on this machine with other seeds or on another one, that give this verdict "
        "again (`apr.evaluation.stats.verdict_agreement`; itself uncertain with few seeds): a share near 50% marks a "
        "verdict on the line between two, which a machine with other numerics can flip. A sweep point (a λ, an "
        "attribute left out) is trained once and borrows the seed-to-seed spread of seeded pairs; its share is "
        "estimated from its interval alone (`interval_verdict_agreement`)."),
    ClaimGroup.RECOUNT: (
        "Counted from the annotation files, no training involved: *this build* is the largest difference between "
        "a recounted and a printed value. A difference the [errata page](../errata.md) lists (with what it most "
        "likely points to) says *erratum*."),
    ClaimGroup.SCALE: "What each claim needs before a build can check it.",
}


def _number(value: float, signed: bool) -> str:
    if value is None or pd.isna(value):
        return "–"
    value = 0.0 if abs(value) < 5e-4 else value       # a float sum's 1e-15 is a zero, not "+0.000"
    digits = 3 if 0 < abs(value) < 0.1 else 2          # Fig. 4's differences are hundredths
    return f"{value:+.{digits}f}" if signed else f"{value:.{digits}f}"


def _share(value: float | None) -> str:
    return "–" if value is None or pd.isna(value) else f"{100 * value:.0f}%"


class Markup(str):
    """Text that is already Markdown (a cross-reference), put into a table cell as it is."""


def _escaped(text: object) -> str:
    """Plain text for Markdown: no tag can open, and a | does not end a table cell."""
    return str(text).replace("|", "\\|").replace("<", "&lt;").replace(">", "&gt;")


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    def cell(text: object) -> str:
        return text if isinstance(text, Markup) else _escaped(text)

    return ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)] + \
        ["| " + " | ".join(cell(c) for c in r) + " |" for r in rows]


def _claim_cell(row: pd.Series) -> str:
    """:func:`_claim_link` as Markdown for a table cell."""
    link = _claim_link(row)
    return link if isinstance(link, Markup) else _escaped(link)


def _claim_link(row: pd.Series) -> str:
    """The claim's text, as a link to the section that measures it when it has one."""
    claim = str(row["claim"])
    anchor = row.get("anchor")
    if isinstance(anchor, str) and anchor:
        # Inside the role the text is literal: only its closing backtick and a "<" that would start the target
        # need replacing; a "|" still ends the table cell.
        text = claim.replace("`", "'").replace("<", "‹").replace("|", "\\|")
        return Markup("{ref}`" + text + f" <{anchor}>`")
    return claim


def _build_summary(parameters: BookParameters) -> list[str]:
    """The lines that say which build produced the rows, with its absolute level next to the paper's."""
    config = parameters.main_config()
    runs = {v: stored_runs(c) for v, c in seeded_variant_configs(parameters, ("ide", "apr")).items()}
    runs["apr_other"] = stored_runs(other_reading_configs(parameters)["apr"])
    key = {"synthetic": "market1501", "synthetic_duke": "dukemtmc"}.get(parameters.dataset, parameters.dataset)
    reported = paper.headline(key) if key in ("market1501", "dukemtmc", "peta") else {}

    def level(variant: str, metric: str) -> str:
        values = [100 * r.metrics[metric] for r in runs[variant]]
        return f"{np.mean(values):.1f} ± {np.std(values, ddof=1) if len(values) > 1 else 0:.1f}"

    names = {"ide": "IDE", "apr": f"APR, {READING_NAMES[parameters.reading]}",
             "apr_other": f"APR, {READING_NAMES[parameters.other_reading]}"}
    rows = [[name, level(v, "rank1"), level(v, "mAP"),
             *(f"{x:.2f}" for x in reported.get(v.removesuffix("_other"), (np.nan, np.nan)))]
            for v, name in names.items()]
    stand_in = "a synthetic stand-in of " + paper.DATASET_LABELS[key] if parameters.dataset.startswith("synthetic") \
        else paper.DATASET_LABELS.get(key, parameters.dataset)
    if parameters.dataset_file is not None:
        stand_in = f"your dataset, {Path(parameters.dataset_file).name}"
    on_paper = (f"on the real {paper.DATASET_LABELS[key]}" if key in paper.DATASET_LABELS
                else "on Market-1501, DukeMTMC-reID and PETA; it has no results on this dataset")
    pretrained = {"synthetic": "a backbone pretrained on other synthetic people",
                  "imagenet": "ImageNet weights"}.get(config.pretrained, config.pretrained)
    # The device the models were trained on, as their run records say ("auto" names none).
    trained_on = {str(r.info.get("provenance", {}).get("device", parameters.device)) for r in runs["ide"]}
    device = ", ".join(sorted(trained_on)) or parameters.device
    return [f"**This build**: `{parameters.dataset}` ({stand_in}); {config.backbone} at {config.image_size[0]}×"
            f"{config.image_size[1]} from {pretrained}, {config.epochs} epochs, Eq. 6's attribute term "
            f"{READINGS[config.attribute_loss_reduction]}, and APR and APR w/o ARM "
            f"{READINGS_BESIDE[parameters.other_reading]} beside them ([errata](../errata.md), item 15); "
            f"{parameters.seeds} training seeds of IDE, ARN and APR (and of APR in the other reading), "
            f"{parameters.ablation_runs} of APR's ablations and the sweeps' seeded points; trained on `{device}`. "
            f"The paper: ResNet-50 at 256×128 from ImageNet weights, 60 epochs, {on_paper} "
            f"({PAPER_LINK}).", "",
            *_table(["model", "rank-1, this build (%)", "mAP, this build (%)", "rank-1, paper", "mAP, paper"],
                    [[r[0], r[1], r[2], r[3] if r[3] != "nan" else "–", r[4] if r[4] != "nan" else "–"] for r in rows]),
            "", "This build's levels are mean ± SD over its training runs; the paper's are reported by the paper. "
            "The claims below are about differences, which a small build can test even where its levels are far from "
            "the paper's.", ""]


def _attribute_lines(check: AttributeCheck, converged: bool, leave_one_out: bool) -> list[str]:
    if check.learned:
        overall = check.overall
        tested = ("so the claims that rest on the attributes are tested" if converged else
                  "which the claims that rest on them need; the schedule is what they lack (above)")
        removal = ("; a Fig. 6 row that leaves out a group not even ARN learns here is untestable" if converged and
                   leave_one_out else "")
        return [f"**Attributes learned**: yes. APR's accuracy, averaged over the groups the paper's models learn, is "
                f"{overall.mean:+.1f} points above their majority rates (95% interval {overall.low:+.1f} to "
                f"{overall.high:+.1f}; {{ref}}`the check <baselines-attribute-check>`), {tested}{removal}.", ""]
    return [f"**Attributes learned**: no. {check.reason[0].upper() + check.reason[1:]} "
            "({ref}`the check <baselines-attribute-check>`): every claim that rests on recognised attributes is "
            f"*{Verdict.UNTESTABLE}*.", ""]


def _convergence_lines(convergence: Convergence) -> list[str]:
    if convergence.converged:
        return [f"**Models converged**: yes. {convergence.climb[0].upper() + convergence.climb[1:]} "
                "({ref}`the check <baselines-convergence>`).", ""]
    return [f"**Models converged**: no. {convergence.climb[0].upper() + convergence.climb[1:]} "
            f"({{ref}}`the check <baselines-convergence>`): every claim about trained models is "
            f"*{Verdict.UNTESTABLE}*. A longer schedule (`make book EPOCHS=...`) is what this build lacks.", ""]


def forest_data(table: pd.DataFrame) -> pd.DataFrame:
    """One row per claim of the forest plot: the build's effect and interval as multiples of the paper's."""
    rows = []
    for _, row in table.iterrows():
        if row["group"] != ClaimGroup.TRAINED:
            continue
        multiple = as_multiple(row)
        rows.append({"claim": row["claim"], "group": row["group"], "verdict": row["verdict"],
                     "multiple": multiple[0] if multiple else np.nan, "low": multiple[1] if multiple else np.nan,
                     "high": multiple[2] if multiple else np.nan, "paper_effect": row["paper_effect"],
                     "measured": row["measured"], "unit": row["unit"]})
    return pd.DataFrame(rows)


def claims_page(table: pd.DataFrame, parameters: BookParameters, check: AttributeCheck, convergence: Convergence
                ) -> str:
    """The book page (MyST markdown) of the scorecard."""
    lines = ["(scorecard)=", "# Which claims hold: the scorecard", "",
             f"Every quantitative claim of the paper ({PAPER_LINK}), what this build measured and a verdict. Each "
             "number was computed by this build, except the column *paper*, which is reported by the paper. The "
             "same rows are in [`claims.csv`](claims.csv) and the forest plot's in "
             f"[`{FOREST}.csv`]({FOREST}.csv).", ""]
    lines += _build_summary(parameters)
    if parameters.dataset_file is not None:       # your own dataset: nothing of the paper's to test against
        lines += ["**Your dataset**: the paper reports nothing on it, so no claim is tested here and every row "
                  "about trained models says *not run here*. This build's own comparisons (APR against IDE and "
                  "ARN, the ablations, λ and τ, with intervals over training seeds and test queries) are in the "
                  "chapters; {ref}`the attribute check <baselines-attribute-check>` says whether its models learned "
                  "the attributes.", ""]
        return "\n".join(lines + _group_tables(table))
    lines += _convergence_lines(convergence) + _attribute_lines(check, convergence.converged,
                                                                parameters.trains_leave_one_out)
    reason = parameters.figures / REASON_FILE          # chapter 02 wrote it in this build
    if reason.is_file():
        lines += [reason.read_text() + " ({ref}`Chapter 02 <baselines-why>` shows each measurement.)", ""]
    trained = table[table["group"] == ClaimGroup.TRAINED]
    counts = trained["verdict"].value_counts()
    tally = ", ".join(f"{counts.get(v, 0)} {v}" for v in (*MEASURED_VERDICTS, Verdict.UNTESTABLE) if counts.get(v, 0))
    lines += [f"**Claims about trained models** ({len(trained)}): {tally}. The recounts of the annotation files and "
              "the claims this build cannot run are counted apart below.", "",
              "## At a glance", "",
              "```{figure} " + f"{FOREST}.png", f":name: fig-{FOREST}",
              ":alt: One row per claim about trained models: a dot for this build's effect as a multiple of the "
              "paper's effect, with its 95% interval as a bar; vertical lines at 0 (no effect) and 1 (the paper's "
              "effect).", "",
              "Each claim about trained models: this build's effect as a multiple of the paper's (1: as large as "
              "claimed; 0: no effect; below 0: the other way), with its 95% interval. The verdict follows from where "
              "the interval lies against 0 and 1. Where an interval leaves the axis an arrow marks the side, with the "
              "value it reaches; a row wholly beyond the axis is one arrow with its value and interval. A speed-up "
              "counts from ×1 (no speed-up): its multiple is (this build's factor − 1) ÷ (the paper's − 1).", "```",
              ""]
    return "\n".join(lines + _group_tables(table))


def _group_tables(table: pd.DataFrame) -> list[str]:
    """The scorecard's sections, one per :class:`ClaimGroup`, each with its table (and notes)."""
    lines: list[str] = []
    for group in ClaimGroup:
        part = table[table["group"] == group]
        if part.empty:
            continue
        lines += [f"## {group[0].upper() + group[1:]}", "", INTRO[group], ""]
        rows, notes = [], []
        for _, r in part.iterrows():
            signed = str(r["paper"]).startswith(("+", "-", "−"))
            note = r["note"] if isinstance(r["note"], str) else ""
            interval = "" if pd.isna(r["low"]) or r["low"] == r["high"] else \
                f" ({_number(r['low'], signed)} to {_number(r['high'], signed)})"
            measured = f"×{r['measured']:.2f}" if r["unit"] == "×" else _number(r["measured"], signed)
            if group == ClaimGroup.TRAINED:
                # Notes go below the table: a tenth column would push the last ones out of a 1,400-px page.
                if note:
                    notes.append(note)
                marker = f" [{len(notes)}]" if note else ""
                rows.append([Markup(_claim_cell(r) + marker), r["paper"], f"{measured}{interval}", r["seeds"],
                             f"**{r['verdict']}**",
                             _number(r["detectable"], False), r["seeds_needed"] or "–", _share(r["agreement"])])
            elif group == ClaimGroup.RECOUNT:
                rows.append([_claim_link(r), r["paper"], _number(r["measured"], False), f"**{r['verdict']}**", note])
            else:
                rows.append([r["claim"], r["paper"], note])
        header = {ClaimGroup.TRAINED: ["claim", "paper", "this build (95% interval)", "seeds", "verdict",
                                       "smallest detectable", "seeds needed", "same verdict on a rebuild (est.)"],
                  ClaimGroup.RECOUNT: ["claim", "paper", "this build", "verdict", "note"],
                  ClaimGroup.SCALE: ["claim", "paper", "needs"]}[group]
        table_lines = _table(header, rows)
        if group == ClaimGroup.TRAINED:     # below 600 px wide, one card per claim (_static/apr.css)
            table_lines = ["```{container} apr-cards", *table_lines, "```"]
        lines += table_lines + [""]
        if notes:
            lines += ["Notes:", ""] + [f"{k}. {_escaped(n)}" for k, n in enumerate(notes, 1)] + [""]
    return lines


def write_scorecard(parameters: BookParameters, generated: Path) -> Path:
    """The scorecard of a finished build: ``claims.csv`` and the forest plot beside the figures, ``claims.md`` (with
    copies of the two CSVs and the plot) in the book."""
    check, convergence = build_attribute_check(parameters), book_convergence(parameters, train=False)
    table = claims_table(claim_rows(parameters, check, convergence))
    figures = parameters.figures
    atomic_write_bytes(figures / "claims.csv", lambda h: h.write(table.to_csv(index=False).encode()))
    forest = forest_data(table)
    save_figure(forest_figure(forest), FOREST, forest.set_index("claim"), figures)
    generated.mkdir(parents=True, exist_ok=True)
    for name in ("claims.csv", f"{FOREST}.csv", f"{FOREST}.png"):    # the page links them: they travel with it
        shutil.copyfile(figures / name, generated / name)
    path = generated / "claims.md"
    atomic_write_bytes(path, lambda h: h.write(claims_page(table, parameters, check, convergence).encode()))
    return path
