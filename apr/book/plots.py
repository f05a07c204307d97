"""Figures: data in, matplotlib ``Figure`` out; :func:`save_figure` writes PNG (+ CSV).

Styling happens inside ``with sns.axes_style(...)`` blocks, never globally.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # no display needed; notebooks still show figures inline

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402

from ..config import variant_spec  # noqa: E402
from ..data.paths import FIGURES  # noqa: E402
from ..data.render import make_cameras, make_identity, render  # noqa: E402
from ..data.synthetic import sample_from_prior  # noqa: E402
from ..data.files import atomic_write_bytes  # noqa: E402
from ..evaluation.stats import Verdict  # noqa: E402
from ..experiments.configs import VARIANT_NAMES  # noqa: E402
from . import verdicts  # noqa: E402

# (attribute, value A, value B, forced view, caption) for the contrast panel.
CONTRASTS = (
    ("gender", 0, 1, "front", "male / female (build only)"),
    ("hair", 0, 1, "back", "short / long hair"),
    ("up", 0, 1, "front", "long / short sleeve"),
    ("down", 0, 1, "front", "long / short lower"),
    ("clothes", 1, 0, "front", "pants / dress"),
    ("hat", 0, 1, "front", "no hat / hat"),
    ("backpack", 0, 1, "back", "backpack (back)"),
    ("backpack", 0, 1, "front", "backpack (front)"),
    ("handbag", 0, 1, "front", "handbag"),
    ("bag", 0, 1, "front", "other bag"),
    ("age", 2, 0, "front", "adult / child"),
    ("upblack", 0, 1, "front", "upper colour"),
)


def synthetic_samples_figure(seed: int = 0) -> plt.Figure:
    """One identity across six cameras, then attribute contrasts (one attribute flipped).

    Contrasts keep the person, the camera and every random draw fixed, so the only change
    in each pair is the named attribute.
    """
    rng = np.random.default_rng(seed)
    cameras = make_cameras(6, np.random.default_rng([seed, 10_000]))
    base = sample_from_prior(1, rng).iloc[0].to_dict()
    base.update(gender=1, hair=1, up=1, clothes=1, down=0, hat=0, backpack=1, handbag=0, bag=0, age=2)
    person = make_identity(1, base, np.random.default_rng([seed, 1]))
    plain = {**base, "backpack": 0, "gender": 0, "hair": 0, "up": 0}
    plain.update({k: 0 for k in base if k.startswith("up") and k != "up"}, upblue=1)
    with sns.axes_style("white"):
        fig = plt.figure(figsize=(11, 9), dpi=100)
        grid = fig.add_gridspec(3, 1, hspace=0.22)
        top = grid[0].subgridspec(1, 6, wspace=0.08)
        for c, cam in enumerate(cameras):
            ax = fig.add_subplot(top[c])
            ax.imshow(render(person, cam, np.random.default_rng([seed, 2, c])))
            ax.set_title(f"camera {cam.camid}", fontsize=9)
            ax.axis("off")
        half = len(CONTRASTS) // 2
        rows = [grid[1].subgridspec(1, 2 * half, wspace=0.04), grid[2].subgridspec(1, 2 * half, wspace=0.04)]
        for i, (attr, a, b, view, caption) in enumerate(CONTRASTS):
            row, col = rows[i // half], 2 * (i % half)
            for j, value in enumerate((a, b)):
                ident = make_identity(2, {**plain, attr: value}, np.random.default_rng([seed, 3]))
                ax = fig.add_subplot(row[col + j])
                ax.imshow(render(ident, cameras[2], np.random.default_rng([seed, 4, i]), view=view))
                ax.axis("off")
                if j == 0:
                    # over the pair, on two lines where it is long: a pair is two narrow images wide
                    ax.set_title(textwrap.fill(caption, 16), fontsize=9, x=1.0, ha="center", linespacing=1.0)
        fig.suptitle("Synthetic Market-1501 stand-in: one identity across six cameras (top);\n"
                     "attribute contrasts, same person, camera and noise with one attribute flipped (below)",
                     fontsize=10, y=0.95)
    return fig


def publish(fig: plt.Figure, name: str, data: pd.DataFrame | None = None, folder: str | Path | None = None):
    """Save ``fig`` (and ``data``) with :func:`save_figure`, close it, and return the saved PNG
    as an IPython image, so a notebook shows exactly the file that was written."""
    from IPython.display import Image

    png = save_figure(fig, name, data, folder)
    plt.close(fig)
    return Image(filename=str(png))


def synthetic_samples_table(seed: int = 0) -> pd.DataFrame:
    """What each panel of :func:`synthetic_samples_figure` shows (its CSV)."""
    cameras = make_cameras(6, np.random.default_rng([seed, 10_000]))
    rows = [{"row": 1, "panel": c + 1, "shows": "identity 1", "camera": cam.camid, "attribute": "", "value": "",
             "view": "camera's"} for c, cam in enumerate(cameras)]
    half = len(CONTRASTS) // 2
    for i, (attr, a, b, view, caption) in enumerate(CONTRASTS):
        for j, value in enumerate((a, b)):
            rows.append({"row": 2 + i // half, "panel": 2 * (i % half) + j + 1, "shows": caption,
                         "camera": cameras[2].camid, "attribute": attr, "value": value, "view": view})
    return pd.DataFrame(rows).set_index(["row", "panel"])


def save_figure(fig: plt.Figure, name: str, data: pd.DataFrame | None = None, folder: str | Path | None = None) -> Path:
    """Save ``fig`` as ``<folder>/<name>.png`` (default folder: ``figures/``), and ``data``
    as ``<name>.csv`` beside it when given. Returns the PNG path."""
    folder = Path(folder) if folder is not None else FIGURES
    folder.mkdir(parents=True, exist_ok=True)
    png = folder / f"{name}.png"
    # Atomic: an interrupted build leaves the previous figure, never half of a new one.
    atomic_write_bytes(png, lambda h: fig.savefig(h, format="png", bbox_inches="tight", metadata={"Software": None}))
    if data is not None:
        atomic_write_bytes(folder / f"{name}.csv", lambda h: h.write(data.to_csv().encode()))
    return png


# One colour and line style per model variant, in every figure of the book (keyed by the names the tables use), from
# the Okabe-Ito palette, which readers with the common colour-vision deficiencies tell apart.
VARIANT_STYLES: dict[str, tuple[str, str]] = {VARIANT_NAMES[v]: style for v, style in {
    "ide": ("#0072B2", "-"), "arn": ("#E69F00", "--"), "apr": ("#D55E00", "-"),
    "apr_no_arm": ("#CC79A7", "-."), "apr_no_attr_loss": ("#56B4E9", ":")}.items()}
# The paper's reported values are black in every figure (dashed lines, square markers); this build's APR in its colour.
SOURCE_COLOURS = {"this build": VARIANT_STYLES["APR"][0], "paper": "#000000"}
# Ranked lists: a gallery image of the query's identity, and one of another person.
MATCH_COLOURS = {"query": "#000000", "same": "#0072B2", "other": "#E69F00"}

# Pie colours for colour-group charts; anything else gets a neutral grey.
_SWATCHES = {"black": "#222222", "white": "#f4f4f4", "red": "#d62728", "purple": "#9467bd", "gray": "#8c8c8c",
             "blue": "#1f77b4", "green": "#2ca02c", "yellow": "#f2d43a", "pink": "#f7a1c4", "brown": "#8c564b"}


def attribute_distribution_figure(counts: pd.Series, up: pd.Series, down: pd.Series, title: str) -> plt.Figure:
    """Fig. 3 layout: positive identities per attribute value (bars), upper and lower colours (pies)."""
    with sns.axes_style("whitegrid"):
        # Bars across the top, the two pies below: the figure reads at the width of the text column.
        fig = plt.figure(figsize=(10, 7.8))
        grid = fig.add_gridspec(2, 2, height_ratios=[1.1, 1])
        axes = [fig.add_subplot(grid[0, :]), fig.add_subplot(grid[1, 0]), fig.add_subplot(grid[1, 1])]
        axes[0].bar(counts.index, counts.to_numpy(), color="#4c72b0")
        axes[0].set_ylabel("identities")
        # Labels rotated about their right end, so that neighbours ("short lower-body", "dress") do not overlap.
        plt.setp(axes[0].get_xticklabels(), rotation=65, ha="right", rotation_mode="anchor", fontsize=9)
        for ax, pie, name in ((axes[1], up, "upper-body colour"), (axes[2], down, "lower-body colour")):
            pie = pie[pie > 0]
            colours = [_SWATCHES.get(k, "#cfcfcf") for k in pie.index]
            ax.pie(pie.to_numpy(), colors=colours, startangle=90, counterclock=False,
                   wedgeprops={"edgecolor": "#555555", "linewidth": 0.5})
            ax.legend([f"{k} ({v})" for k, v in pie.items()], loc="center left", bbox_to_anchor=(1.0, 0.5),
                      fontsize=9, frameon=False)
            ax.set_title(name, fontsize=10)
        fig.suptitle(title, fontsize=11)
        fig.tight_layout()
    return fig


def heatmap_figure(matrix: pd.DataFrame, title: str, *, fmt: str = ".2f", cmap: str = "Blues",
                   center: float | None = None,
                   annotate: bool = True, size: tuple[float, float] | None = None) -> plt.Figure:
    """A labelled matrix; every cell prints its value when ``annotate``."""
    n_rows, n_cols = matrix.shape
    size = size or (max(5.0, 0.55 * n_cols + 2.5), max(4.0, 0.45 * n_rows + 1.5))
    fig, ax = plt.subplots(figsize=size)
    sns.heatmap(matrix.astype(float), annot=annotate, fmt=fmt, cmap=cmap, center=center, ax=ax, square=False,
                cbar=True, annot_kws={"fontsize": 7}, linewidths=0.3, linecolor="white")
    ax.set_title(title, fontsize=10)
    # column labels rotated about their end, so long names ("type of lower-body clothing") do not overlap
    plt.setp(ax.get_xticklabels(), rotation=60, ha="right", rotation_mode="anchor", fontsize=9)
    ax.tick_params(axis="y", rotation=0, labelsize=9)
    fig.tight_layout()
    return fig


def training_curves_figure(history: pd.DataFrame) -> plt.Figure:
    """Loss, training ID accuracy and training attribute accuracy per epoch, one line per variant, each
    variant in its own colour and line style (:data:`VARIANT_STYLES`) in every panel, one legend for all (in the
    fourth cell of a 2 × 2 grid, so the figure reads at the width of the text column)."""
    panels = [("loss", "training loss (each model's own objective)"), ("id_acc", "training ID accuracy"),
              ("attr_acc", "training attribute accuracy (attribute loss trained)")]
    untrained = {VARIANT_NAMES[v] for v in VARIANT_NAMES if not variant_spec(v).attribute_loss}
    with sns.axes_style("whitegrid"):
        fig, grid = plt.subplots(2, 2, figsize=(9, 6.4))
        axes = grid.ravel()
        for ax, (column, title) in zip(axes, panels):
            for variant, part in history.groupby("variant", sort=False):
                if column != "loss" and not part[column].any():
                    continue   # the variant has no such head
                if column == "attr_acc" and variant in untrained:
                    continue   # heads no loss trains ("w/o attri"): their accuracy says nothing
                colour, style = VARIANT_STYLES.get(variant, ("#7f7f7f", "-"))
                ax.plot(part["epoch"], part[column], label=variant, lw=1.6, color=colour, linestyle=style)
            ax.set_title(title, fontsize=10)
            ax.set_xlabel("epoch")
        handles = {line.get_label(): line for ax in axes for line in ax.get_lines()}
        axes[3].axis("off")
        axes[3].legend(list(handles.values()), list(handles), loc="center", fontsize=10, frameon=False)
        fig.tight_layout()
    return fig


def ranked_list_figure(query_paths: list[str], ranked_paths: list[list[str]], correct: list[list[bool]],
                       title: str) -> plt.Figure:
    """One row per query: the query image, then its ranked gallery images framed green (same
    identity) or red (another identity)."""
    from PIL import Image

    rows, cols = len(query_paths), 1 + max(len(r) for r in ranked_paths)
    fig, axes = plt.subplots(rows, cols, figsize=(1.1 * cols, 2.3 * rows), squeeze=False)
    for i, (query, ranked, hits) in enumerate(zip(query_paths, ranked_paths, correct)):
        panels = [(query, "query", MATCH_COLOURS["query"])] + [
            (p, f"{k + 1} {'✓' if hit else '✗'}", MATCH_COLOURS["same" if hit else "other"])
            for k, (p, hit) in enumerate(zip(ranked, hits))]
        for j, ax in enumerate(axes[i]):
            ax.set_xticks([])
            ax.set_yticks([])
            if j >= len(panels):
                ax.axis("off")
                continue
            path, label, colour = panels[j]
            ax.imshow(Image.open(path).convert("RGB"))
            for spine in ax.spines.values():
                spine.set_edgecolor(colour)
                spine.set_linewidth(3 if j else 2)
            ax.set_title(label, fontsize=8, color=colour)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def sweep_figure(measured: pd.DataFrame, reported: pd.DataFrame | None, xlabel: str, title: str) -> plt.Figure:
    """Rank-1 and mAP (%) against the index of ``measured``: this build's points with their 95% intervals
    (columns ``rank1``, ``rank1 low``, ``rank1 high``, same for ``mAP``) and, when given, the paper's
    reported curve (same columns without intervals) on the same axis."""
    with sns.axes_style("whitegrid"):
        fig, axes = plt.subplots(1, 2, figsize=(11, 4))
        for ax, metric, name in zip(axes, ("rank1", "mAP"), ("rank-1", "mAP")):
            x, y = measured.index.to_numpy(dtype=float), measured[metric].to_numpy(dtype=float)
            error = np.vstack([y - measured[f"{metric} low"].to_numpy(float),
                               measured[f"{metric} high"].to_numpy(float) - y])
            ax.errorbar(x, y, yerr=error, fmt="o-", color=SOURCE_COLOURS["this build"], capsize=3,
                        label="this build (95% interval)")
            if reported is not None and metric in reported:
                ax.plot(reported.index, reported[metric], "s--", color=SOURCE_COLOURS["paper"], alpha=0.8,
                        label="reported by the paper (Market-1501)")
            ax.set_xlabel(xlabel)
            ax.set_ylabel(f"{name} (%)")
            ax.set_ylim(0, 100)      # an interval may reach past what a percentage can be
            ax.legend(fontsize=8, loc="lower right")
        fig.suptitle(title, fontsize=10)
        fig.tight_layout()
    return fig


def delta_bars_figure(deltas: pd.DataFrame, title: str) -> plt.Figure:
    """Horizontal bars of rank-1 change per removed attribute: this build (column ``this build``, with its
    95% interval from ``95% low``/``95% high``) and the paper's (the last numeric column)."""
    paper_column = [c for c in deltas.columns if c.startswith("reported")]
    with sns.axes_style("whitegrid"):
        fig, ax = plt.subplots(figsize=(8, 0.5 * len(deltas) + 1.5))
        y = np.arange(len(deltas))
        height = 0.4
        measured = deltas["this build"].to_numpy(dtype=float)
        error = np.vstack([measured - deltas["95% low"].to_numpy(float), deltas["95% high"].to_numpy(float) - measured])
        ax.barh(y, measured, height, xerr=error, capsize=3, label="this build (95% interval)",
                color=SOURCE_COLOURS["this build"], error_kw={"lw": 1})
        for column in paper_column:
            ax.barh(y + height, deltas[column].fillna(0).to_numpy(), height, label=column,
                    color=SOURCE_COLOURS["paper"])
        ax.set_yticks(y + height * len(paper_column) / 2)
        ax.set_yticklabels(deltas.index, fontsize=9)
        ax.axvline(0, color="black", lw=0.8)
        ax.set_xlabel("change of rank-1 when the attribute is left out (points)")
        ax.legend(fontsize=8)
        ax.invert_yaxis()
        ax.set_title(title, fontsize=10)
        fig.tight_layout()
    return fig


def acceleration_figure(curve: pd.DataFrame, reported: pd.DataFrame | None, title: str) -> plt.Figure:
    """Fig. 9: the change of rank-1 and of mAP (points, against the whole gallery) as the share of the gallery used
    (%) falls, one point per τ, with 95% intervals in both directions (columns ``gallery_used``,
    ``rank1_change``, ``mAP_change``, each with `` low`` and `` high``); the paper's points (``gallery_pct``,
    ``rank1_change``) on the same axes: a change is comparable where the two builds' levels are not."""
    with sns.axes_style("whitegrid"):
        fig, axes = plt.subplots(1, 2, figsize=(10, 4))
        for ax, metric, name in ((axes[0], "rank1_change", "rank-1"), (axes[1], "mAP_change", "mAP")):
            x, y = curve["gallery_used"], curve[metric]
            xerr = np.vstack([x - curve["gallery_used low"], curve["gallery_used high"] - x])
            yerr = np.vstack([y - curve[f"{metric} low"], curve[f"{metric} high"] - y])
            ax.errorbar(x, y, xerr=xerr, yerr=yerr, fmt="o-", capsize=2, color=SOURCE_COLOURS["this build"],
                        label="this build (95% intervals)")
            labelled: list[tuple[float, float]] = []
            for tau, xi, yi in zip(curve.index, x, y):
                # Skip a τ whose point sits on one already labelled (0.95/0.98/0.99 keep nearly all the gallery).
                if any(abs(xi - px) < 6 and abs(yi - py) < 2 for px, py in labelled):
                    continue
                labelled.append((xi, yi))
                ax.annotate(f"τ={tau:g}", (xi, yi), textcoords="offset points", xytext=(4, -11), fontsize=8,
                            color=SOURCE_COLOURS["this build"])
            if reported is not None and metric in reported:
                ax.plot(reported["gallery_pct"], reported[metric], "s--", color=SOURCE_COLOURS["paper"],
                        label="reported by the paper (Market-1501)")
            ax.axhline(0, color="#444444", lw=0.8)
            ax.set_xlabel("gallery used (%)", fontsize=10)
            ax.set_ylabel(f"change of {name} (points)", fontsize=10)
            ax.set_title(f"{name}, against the whole gallery", fontsize=10)
            ax.set_xlim(-2, 102)
            ax.legend(fontsize=9, loc="lower right")
        fig.suptitle(title, fontsize=11)
        fig.tight_layout()
    return fig


# Fig. 8: the paper's curves in the paper's colour, told apart by their line style and marker.
_PAPER_FIG8_STYLES = {"APR": ("--", "s"), "Baseline 1": (":", "^"), "2stream": ("-.", "D")}


def distractor_figure(levels: pd.DataFrame, reported: dict[str, dict[str, tuple[float, ...]]] | None,
                      reported_gallery: tuple[int, ...] | None, title: str) -> plt.Figure:
    """Fig. 8: rank-1 and mAP (%) against the gallery size (log axis). This build's models (``levels``: rows of
    model, gallery, ``<metric>`` and ``<metric> low/high``) as solid lines with 95% intervals, nudged sideways
    so that their bars do not hide each other; the paper's curves (``reported[curve][metric]`` at
    ``reported_gallery``) dashed, on the same axes. One legend, under both panels."""
    models = list(dict.fromkeys(levels["model"]))
    with sns.axes_style("whitegrid"):
        fig, axes = plt.subplots(1, 2, figsize=(11, 4.6))
        for ax, metric, name in zip(axes, ("rank1", "mAP"), ("rank-1", "mAP")):
            for k, model in enumerate(models):
                part = levels[levels["model"] == model]
                nudge = 1.025 ** (k - (len(models) - 1) / 2)          # a few percent along the log axis
                x, y = part["gallery"].to_numpy(float) * nudge, part[metric].to_numpy(float)
                error = np.vstack([y - part[f"{metric} low"].to_numpy(float),
                                   part[f"{metric} high"].to_numpy(float) - y])
                ax.errorbar(x, y, yerr=error, fmt="o-", capsize=3, color=VARIANT_STYLES.get(model, ("#7f7f7f", "-"))[0],
                            label=f"{model}, this build (95% interval)")
            for curve, values in (reported or {}).items():
                style, marker = _PAPER_FIG8_STYLES.get(curve, ("--", "s"))
                ax.plot(reported_gallery, values[metric], linestyle=style, marker=marker, color=SOURCE_COLOURS["paper"],
                        alpha=0.8, label=f"{curve}, reported by the paper (Market-1501+500k)")
            ax.set_xscale("log")
            ax.set_xlabel("gallery images (log scale)")
            ax.set_ylabel(f"{name} (%)")
            ax.set_ylim(0, 100)
        handles, labels = axes[0].get_legend_handles_labels()
        fig.legend(handles, labels, loc="lower center", ncol=3, fontsize=8, frameon=False)
        fig.suptitle(title, fontsize=10)
        fig.tight_layout(rect=(0, 0.12, 1, 1))
    return fig


# The forest plot's axis: the build's effect as a multiple of the paper's, clipped here (arrows mark the rest).
FOREST_LIMITS = (-2.0, 3.0)


def forest_clips(multiple: float, low: float, high: float, limits: tuple[float, float] = FOREST_LIMITS
                 ) -> list[tuple[float, str, str]]:
    """Where a forest-plot row leaves the axis ``limits``: (the axis end, the text's alignment, the text) for each
    side its interval passes. A row wholly off the axis gets one arrow, on its side, with its value and interval
    ("−13.0 (−14.9 to −11.1)"); a row that passes an end gets an arrow there with the interval's end value."""
    lo, hi = limits
    if high < lo or low > hi:
        side = lo if high < lo else hi
        return [(side, "left" if side == lo else "right", f"{multiple:+.1f} ({low:+.1f} to {high:+.1f})")]
    clips = []
    if low < lo:
        clips.append((lo, "left", f"to {low:+.1f}"))
    if high > hi:
        clips.append((hi, "right", f"to {high:+.1f}"))
    return clips


def forest_figure(forest: pd.DataFrame) -> plt.Figure:
    """The scorecard's forest plot: one row per claim about trained models, this build's effect as a multiple of the
    paper's (column ``multiple``, interval ``low``–``high``) against 0 (no effect) and 1 (the paper's effect), and
    its verdict on the right."""
    lo, hi = FOREST_LIMITS
    rows = len(forest)
    with sns.axes_style("whitegrid"):
        # Claims wrapped on two lines: the axis keeps most of the width, and the figure reads in the text column.
        fig, ax = plt.subplots(figsize=(8.5, 0.42 * rows + 1.4))
        ax.axvspan(lo, 0, color="#f2f2f2", zorder=0)
        ax.axvline(0, color="#444444", lw=1, zorder=1)
        ax.axvline(1, color=SOURCE_COLOURS["paper"], lw=1.2, ls="--", zorder=1, label="the paper's effect (1)")
        for y, (_, row) in enumerate(forest.iterrows()):
            verdict = str(row["verdict"])
            if pd.isna(row["multiple"]):
                continue                           # nothing measured: the verdict on the right says why
            colour = SOURCE_COLOURS["this build"] if verdict != Verdict.UNTESTABLE else "#999999"
            for x, align, text in forest_clips(float(row["multiple"]), float(row["low"]), float(row["high"])):
                # An arrow where the interval leaves the axis, and the value it reaches there, in words.
                ax.plot(x, y, "<" if x == lo else ">", color=colour, ms=8, zorder=4, clip_on=False)
                ax.annotate(text, (x, y), xytext=(5 if align == "left" else -5, 3), textcoords="offset points",
                            ha=align, va="bottom", fontsize=7.5, color=colour,
                            bbox={"boxstyle": "round,pad=0.15", "fc": "white", "ec": "none", "alpha": 0.85})
            left, right = (float(np.clip(v, lo, hi)) for v in (row["low"], row["high"]))
            if left < right:
                ax.plot([left, right], [y, y], color=colour, lw=2, solid_capstyle="butt", zorder=2)
            if lo <= row["multiple"] <= hi:
                ax.plot(row["multiple"], y, verdicts.marker(verdict), color=colour, ms=5, zorder=3)
        ax.set_yticks(range(rows))
        ax.set_yticklabels([textwrap.fill(str(c), 46) for c in forest["claim"]], fontsize=8.5, linespacing=1.0)
        ax.set_ylim(rows - 0.5, -0.5)
        ax.set_xlim(lo, hi)
        verdict_axis = ax.twinx()                  # each row's verdict, in words, on the right
        verdict_axis.set_ylim(ax.get_ylim())
        verdict_axis.set_yticks(range(rows))
        verdict_axis.set_yticklabels([textwrap.fill(str(v), 14) for v in forest["verdict"]], fontsize=8.5,
                                     linespacing=1.0)
        verdict_axis.grid(False)
        ax.set_xlabel("this build's effect ÷ the paper's effect (95% interval)", fontsize=9)
        ax.legend(fontsize=8, loc="lower left", bbox_to_anchor=(0, 1), frameon=False)   # above: rows fill the axis
        fig.tight_layout()
    return fig
