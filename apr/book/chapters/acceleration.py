"""Chapter 05, attribute acceleration and distractors (paper §5.4, Figs. 8–9): the gallery kept against accuracy
as τ varies, the measured speed-up and how it scales with the gallery, and accuracy as distractors flood it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ...evaluation.retrieval import AttributePredictions, enlarge_gallery, time_per_query
from ...evaluation.stats import Verdict, every_point_verdict, seed_query_interval
from ...experiments import BookParameters
from ...experiments.cache import RunRecord, load_or_train_many
from ...experiments.configs import seeded_configs
from ...experiments.distractors import FIG8_DATASETS, GrowthOutcomes, book_distractor_outcomes
from .. import paper
from ..attribute_check import AttributeCheck, attribute_check, precondition_words, verdict_under
from ..convergence import book_convergence
from ..plots import acceleration_figure, distractor_figure, publish
from ..report import (FIG9_TAUS, acceleration_outcomes, fig8_paper_effects, growth_fall_gap, growth_gaps, growth_levels,
                      paper_share_tau, shown)
from .chapter import Chapter

TIMED_TAUS = (0.6, 0.7, 0.8)
TIMED_QUERIES = 100


def test_set_words(features: Mapping[str, Any], runs: int) -> str:
    """What the chapter's evaluation runs on (``features``: a run's features file): queries, gallery, junk,
    distractors and attributes."""
    query, gallery = features["query"], features["gallery"]
    junk, distractors = int((gallery["pids"] == -1).sum()), int((gallery["pids"] == 0).sum())
    return (f"APR, {runs} training runs: {len(query['pids']):,} queries; {len(gallery['pids']):,} gallery "
            f"images, of which {junk:,} junk (never counted) and {distractors:,} distractors; "
            f"{len(query['attr_probs'])} attributes.")


def tau_curve(outcomes: Mapping[float, Mapping[str, np.ndarray]]) -> pd.DataFrame:
    """Fig. 9's points: per τ the share of the gallery compared and the change of rank-1 and mAP against the whole
    gallery (paired within each run), each with its 95% interval over runs and queries, and the levels."""
    rows = []
    for tau in outcomes:
        used = seed_query_interval(outcomes[tau]["gallery_used"])
        changes = {m: seed_query_interval(outcomes[tau][c] - outcomes[1.0][c]) for m, c in (("rank1", "rank1"),
                                                                                           ("mAP", "AP"))}
        rows.append({"tau": tau, "gallery_used": used.mean, "gallery_used low": used.low,
                     "gallery_used high": used.high,
                     **{f"{m}_change{s}": getattr(i, a) for m, i in changes.items()
                        for s, a in (("", "mean"), (" low", "low"), (" high", "high"))},
                     "rank1": outcomes[tau]["rank1"].mean(), "mAP": outcomes[tau]["AP"].mean()})
    curve = pd.DataFrame(rows).set_index("tau")
    # More of the gallery is kept as τ grows, and τ = 1 keeps all of it.
    if not curve["gallery_used"].is_monotonic_increasing or not np.isclose(curve.loc[1.0, "gallery_used"], 100.0):
        raise RuntimeError(f"the share of the gallery kept does not grow with τ to 100%:\n{curve['gallery_used']}")
    return curve


def small_gallery_words(curve: pd.DataFrame) -> str:
    """What keeping at most 10% of the gallery costs, at the best τ that does; or that no τ does."""
    small = curve[curve["gallery_used"] <= 10]
    if not len(small):
        return ("no τ of the sweep keeps 10% of the gallery or less: this model's attribute confidences are lower "
                "than the paper's")
    best = small["rank1"].idxmax()
    return (f"at most 10% of the gallery on average (τ = {best:g}, {small.loc[best, 'gallery_used']:.1f}%) costs "
            f"{curve.loc[1.0, 'rank1'] - small.loc[best, 'rank1']:.2f} points of rank-1")


def tau_sweep(runs: Sequence[RunRecord], check: AttributeCheck, chapter: Chapter, figures: Path,
              converged: bool = True) -> None:
    """Fig. 9 (published), its table, and the quoted values at the paper's τ = 0.7 (verdicts *untestable* unless the
    build's schedule ``converged``)."""
    outcomes = acceleration_outcomes(runs, list(FIG9_TAUS))   # tau -> (training runs, queries) per-query outcomes, %
    curve = tau_curve(outcomes)
    reported = pd.DataFrame({"tau": paper.FIG9_TAU, "gallery_pct": paper.FIG9_GALLERY_PCT, "rank1": paper.FIG9_RANK1})
    reported["rank1_change"] = reported["rank1"] - paper.FIG9_FULL_RANK1
    fig = acceleration_figure(curve, reported, "Fig. 9: attribute acceleration, one point per τ")
    data = curve.join(reported.set_index("tau").add_suffix(f" ({paper.REPORTED})"), how="outer")
    chapter.figures["fig9"] = publish(fig, "fig9_acceleration", data, folder=figures)
    r = paper.REPORTED
    chapter.tables["fig9"] = shown(
        data[["gallery_used", "rank1", "rank1_change", "mAP", "mAP_change", f"gallery_pct ({r})", f"rank1 ({r})"]]
        .rename(columns={"gallery_used": "gallery used (%)", "rank1": "rank-1 (%)",
                         "rank1_change": "rank-1 change (points)", "mAP": "mAP (%)",
                         "mAP_change": "mAP change (points)", f"gallery_pct ({r})": f"gallery used (%, {r})",
                         f"rank1 ({r})": f"rank-1 (%, {r})"}).rename_axis("τ"))
    chapter.tables["tau_matched"] = shown(tau_comparison(outcomes, check, converged))
    matched = paper_share_tau(outcomes)
    quotes = {}
    for name, tau in (("tau07", 0.7), ("matched", matched)):
        kept = seed_query_interval(outcomes[tau]["gallery_used"])
        # Paired within each training run: the same model with and without the filter, on the same queries.
        change = outcomes[tau]["rank1"] - outcomes[1.0]["rank1"]
        cost = seed_query_interval(change)
        quotes |= {f"{name}_used": f"{kept.mean:.1f}% (95% interval {kept.low:.1f} to {kept.high:.1f})",
                   f"{name}_drop": f"{cost.mean:+.2f} points (95% interval {cost.low:+.2f} to {cost.high:+.2f})",
                   f"{name}_verdict": str(verdict_under(check, -paper.TIMING["tau_0.7_rank1_drop"], cost,
                                                        per_run=change.mean(1), converged=converged))}
    chapter.quotes |= quotes | {"full_r1": f"{curve.loc[1.0, 'rank1']:.2f}", "matched_tau": f"{matched:g}",
                                "small_text": small_gallery_words(curve),
                                "tau_precondition": precondition_words(check, "the filter trusts the attribute "
                                                                              "predictions", converged)}


def tau_comparison(outcomes: Mapping[float, Mapping[str, np.ndarray]], check: AttributeCheck,
                   converged: bool = True) -> pd.DataFrame:
    """Fig. 9's claim ("τ = 0.7 keeps a tenth of the gallery for 2.92 points of rank-1") held against this build at
    the paper's τ and at the τ that keeps the paper's share of the gallery: the share kept and the change of rank-1,
    with 95% intervals over training runs and queries, the paper's numbers and the verdict on the cost."""
    paper_kept = paper.FIG9_GALLERY_PCT[paper.FIG9_TAU.index(0.7)]
    paper_cost = -paper.TIMING["tau_0.7_rank1_drop"]
    rows = []
    for label, tau in (("the paper's τ", 0.7), ("the paper's share of the gallery", paper_share_tau(outcomes))):
        kept = seed_query_interval(outcomes[tau]["gallery_used"])
        change = outcomes[tau]["rank1"] - outcomes[1.0]["rank1"]
        cost = seed_query_interval(change)
        rows.append({"compared at": label, "τ": f"{tau:g}",
                     "gallery kept (%)": f"{kept.mean:.1f} ({kept.low:.1f} to {kept.high:.1f})",
                     "rank-1 change (points)": f"{cost.mean:+.2f} ({cost.low:+.2f} to {cost.high:+.2f})",
                     f"gallery kept (%, {paper.REPORTED})": f"{paper_kept:.2f}",
                     f"rank-1 change ({paper.REPORTED})": f"{paper_cost:+.2f}",
                     "verdict on the cost": str(verdict_under(check, paper_cost, cost, per_run=change.mean(1),
                                                              converged=converged))})
    return pd.DataFrame(rows).set_index("compared at")


def search_timing(features: Mapping[str, Any], book: BookParameters) -> pd.DataFrame:
    """Wall time per query of the exhaustive and the filtered top-10 search with a run's ``features``, on its gallery
    and on larger ones resampled from it, at τ = 0.6, 0.7 and 0.8 (one row per gallery size and τ)."""
    query, gallery = features["query"], features["gallery"]
    q_pred = AttributePredictions.from_probs(query["attr_probs"])
    g_pred = AttributePredictions.from_probs(gallery["attr_probs"])
    g_feat = gallery["features"].numpy()
    q_feat = query["features"].numpy()[:TIMED_QUERIES]
    q_sub = q_pred.subset(np.arange(len(q_feat)))
    n = len(g_feat)
    sizes = [n, 3 * n, 10 * n] if book.scale != "smoke" else [n, 4 * n]   # quick: up to ~110,000 images
    rows = []
    for size in sizes:
        feats, preds = (g_feat, g_pred) if size == n else enlarge_gallery(g_feat, g_pred, size, seed=book.seed)
        rows.extend(time_per_query(q_feat, q_sub, feats, preds, tau) for tau in TIMED_TAUS)
    return pd.DataFrame(rows)


def speed(features: Mapping[str, Any], book: BookParameters, chapter: Chapter) -> None:
    """The timing table (written as a CSV too) and the speed-ups the prose quotes, at τ = 0.7."""
    timing = search_timing(features, book)
    table = timing.assign(gallery_used=100 * timing["gallery_used"], ms_full=1000 * timing["seconds_full"],
                          ms_filtered=1000 * timing["seconds_filtered"])
    table = table[["gallery", "tau", "groups", "gallery_used", "ms_full", "ms_filtered", "speedup", "ideal_speedup",
                   "index_build_s"]].set_index(["gallery", "tau"])
    table.to_csv(book.figures / "acceleration_timing.csv")
    own = int(timing["gallery"].min())
    table.insert(0, "source", ["this build's test gallery" if g == own else "resampled from it (features + noise)"
                               for g in table.index.get_level_values("gallery")])
    chapter.tables["timing"] = shown(table.reset_index().rename(columns={
        "gallery": "gallery images", "tau": "τ", "source": "gallery", "groups": "attribute signatures",
        "gallery_used": "gallery compared (%)",
        "ms_full": "exhaustive search (ms per query)", "ms_filtered": "filtered search (ms per query)",
        "speedup": "speed-up (×)", "ideal_speedup": "ideal (× = 1 / share compared)",
        "index_build_s": "index build (s)"}).set_index(["gallery images", "τ"]), 3)
    at_07 = timing[np.isclose(timing["tau"], 0.7)].sort_values("gallery")
    own, largest = at_07.iloc[0], at_07.iloc[-1]
    chapter.quotes |= {"own_gallery": f"{int(own['gallery']):,}", "own_speedup": f"{own['speedup']:.2f}",
                       "largest_gallery": f"{int(largest['gallery']):,}",
                       "largest_speedup": f"{largest['speedup']:.2f}",
                       "largest_used": f"{100 * largest['gallery_used']:.1f}",
                       "largest_ideal": f"{largest['ideal_speedup']:.2f}"}


def fig8_words(growth: GrowthOutcomes, check: AttributeCheck, converged: bool = True) -> str:
    """What Fig. 8 shows, in Markdown: the sizes, APR − IDE at each with simultaneous intervals, and the verdicts on
    "APR stays ahead at every size" and "APR's rank-1 drops faster"."""
    gaps = growth_gaps(growth)
    fall = growth_fall_gap(growth)
    runs_each = growth.values["apr"]["rank1"].shape[0]
    ahead = (every_point_verdict(fig8_paper_effects(growth), gaps["rank1"]) if check.learned and converged
             else Verdict.UNTESTABLE)
    per_size = "; ".join(f"{s:,}: {g.mean:+.2f} ({g.low:+.2f} to {g.high:+.2f})"
                         for s, g in zip(growth.sizes, gaps["rank1"]))
    return (
        f"This build's galleries hold {', '.join(f'{s:,}' for s in growth.sizes)} images (up to "
        f"{growth.sizes[-1] / growth.sizes[0]:.1f} times the test gallery; the paper's go from 19,732 to 519,732, "
        f"26.3 times), each point over {runs_each} training run{'s' if runs_each > 1 else ''} of APR and of IDE. "
        "APR − IDE rank-1 at each size, paired by training seed, with intervals over the seeds and the queries "
        f"that hold for all sizes at once (95% together; each at {100 * (1 - 0.05 / len(growth.sizes)):.2f}%): "
        f"{per_size}.\n\n"
        f"- \"APR stays ahead of Baseline 1 at every size\": **{ahead}** (the worst of the sizes' verdicts against "
        "the paper's gap at the nearest of its sizes). A claim about every size at once needs intervals that hold "
        "together: four separate 95% intervals can miss, one of them or more, up to one time in five.\n"
        "- \"APR's rank-1 drops faster than Baseline 1's\": from the smallest gallery to the largest, APR's "
        f"rank-1 falls by {fall.mean:+.2f} points (95% interval {fall.low:+.2f} to {fall.high:+.2f}) more than "
        f"IDE's (paper, read off Fig. 8 from 19.7k to 519.7k: {paper.FIG8_RANK1_FALL_GAP:+.1f}). Verdict: "
        f"**{verdict_under(check, paper.FIG8_RANK1_FALL_GAP, fall, converged=converged)}**.")


def distractor_costs(growth: GrowthOutcomes, manifest: Mapping[str, Any] | None, figures: Path) -> pd.DataFrame:
    """Seconds per gallery size (summed over the models' runs): generation (once), decoding, embedding, search;
    written as a CSV too."""
    per_size = growth.timing.groupby("gallery").agg(added=("added", "first"), decode_s=("decode_s", "sum"),
                                                    extract_s=("extract_s", "sum"), search_s=("search_s", "sum"))
    generated = {}
    if manifest is not None:
        total = 0
        for step in manifest["generations"]:
            total += step["added"]
            generated[total] = step["seconds"]
    counts = np.cumsum(per_size["added"].to_numpy())
    per_size["generate_s"] = [generated.get(int(c), np.nan) if c else 0.0 for c in counts]
    per_size = per_size[["added", "generate_s", "decode_s", "extract_s", "search_s"]]
    per_size.to_csv(figures / "fig8_timing.csv")
    return per_size


def distractors(book: BookParameters, check: AttributeCheck, chapter: Chapter, converged: bool = True) -> None:
    """Fig. 8 (published), its levels, what each size cost, and its words; or the note of a dataset without it."""
    if book.dataset not in FIG8_DATASETS:
        chapter.blocks["fig8_text"] = (
            f"Fig. 8 is not run on `{book.dataset}`: the paper's distractor set (Market-1501+500k) joins "
            "Market-1501. It runs with `dataset='market1501'` (reading the 500k distractors) or on the default "
            "synthetic set.")
        return
    # fewer runs than Table 1's: each run embeds every distractor at every size
    growth, manifest = book_distractor_outcomes(book)
    levels = growth_levels(growth)
    fig = distractor_figure(levels, paper.FIG8, paper.FIG8_GALLERY,
                            "Fig. 8: rank-1 and mAP as distractors join the gallery")
    reported = pd.DataFrame([{"model": f"{curve} ({paper.REPORTED})", "gallery": size, "rank1": values["rank1"][i],
                              "mAP": values["mAP"][i]}
                             for curve, values in paper.FIG8.items() for i, size in enumerate(paper.FIG8_GALLERY)])
    chapter.figures["fig8"] = publish(fig, "fig8_distractors", pd.concat([levels, reported], ignore_index=True),
                                      folder=book.figures)
    chapter.tables["fig8"] = shown(levels.assign(**{"gallery": levels["gallery"].map("{:,}".format)})
                                   .rename(columns=lambda c: c.replace("rank1", "rank-1 (%)").replace("mAP", "mAP (%)"))
                                   .rename(columns={"gallery": "gallery images", "runs": "training runs"})
                                   .set_index(["model", "gallery images"]))
    per_size = distractor_costs(growth, manifest, book.figures)
    costs = per_size.reset_index().assign(gallery=lambda t: t["gallery"].map("{:,}".format),
                                          added=lambda t: t["added"].cumsum())    # the gallery's, not the step's
    chapter.tables["fig8_costs"] = shown(costs
                                         .rename(columns={"gallery": "gallery images", "added": "distractors in it",
                                                          "generate_s": "generation, once (s)",
                                                          "decode_s": "decoding (s)",
                                                          "extract_s": "embedding, all runs (s)",
                                                          "search_s": "search, all runs (s)"})
                                         .set_index("gallery images"), 1)
    if manifest is not None:
        chapter.notes["fig8_on_disk"] = (f"Synthetic distractors on disk: {manifest['count']:,} images, rendered in "
                                         f"{sum(s['seconds'] for s in manifest['generations']):.1f} s over "
                                         f"{len(manifest['generations'])} step(s).")
    chapter.blocks["fig8_text"] = fig8_words(growth, check, converged)


def acceleration(parameters: BookParameters | Mapping[str, Any] | None = None) -> Chapter:
    """Chapter 05 for ``parameters`` (a :class:`BookParameters`, or the chapter's parameters by name)."""
    book = parameters if isinstance(parameters, BookParameters) else BookParameters.from_dict(dict(parameters or {}))
    runs = load_or_train_many(seeded_configs(book.main_config(), book.seeds), execution=book.execution)
    arn = load_or_train_many(seeded_configs(book.main_config(variant="arn"), book.seeds), execution=book.execution)
    check = attribute_check(arn, runs, book.data_root)
    features = runs[0].features()     # APR's first run: the test set's counts and the timed searches
    chapter = Chapter(notes={"test_set": test_set_words(features, len(runs))})
    converged = book_convergence(book).converged
    tau_sweep(runs, check, chapter, book.figures, converged)
    speed(features, book, chapter)
    distractors(book, check, chapter, converged)
    return chapter
