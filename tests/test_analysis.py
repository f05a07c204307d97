"""Attribute statistics (Figs. 3-4), the paper's reported numbers, the book's experiment plan,
the results cache, and the retrieval helpers the chapters use."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path

import matplotlib.colors
import numpy as np
import pandas as pd
import pytest

from apr.book import paper
from apr.book.annotation_stats import (
    attribute_indicators,
    colour_counts,
    conditional_cooccurrence,
    positive_counts,
    quirk_summary,
    split_differences,
)
from apr.data import DUKE_SCHEMA, MARKET_SCHEMA, load_attribute_annotations
from apr.experiments import BookParameters
from apr.experiments.configs import REMOVALS, book_configs, lambda_configs, leave_one_out_configs
from apr.evaluation.retrieval import AttributePredictions, enlarge_gallery, ranked_lists


def test_conditional_cooccurrence_is_p_column_given_row():
    ind = pd.DataFrame({"a": [1, 1, 1, 0, np.nan], "b": [1, 0, np.nan, 1, 1], "c": [0, 0, 0, 0, 0]}, dtype=float)
    m = conditional_cooccurrence(ind)
    # P(b | a): of the two identities with a and a known b, one has b
    assert m.loc["a", "b"] == pytest.approx(1 / 2)
    # P(a | b): of the three with b whose a is known (rows 0, 3; row 4 has a unknown) -> 1 of 2
    assert m.loc["b", "a"] == pytest.approx(1 / 2)
    assert m.loc["a", "a"] == 1.0 and m.loc["a", "c"] == 0.0
    assert np.isnan(m.loc["c", "a"])   # nobody has c


def test_indicators_name_values_readably_and_keep_unlabelled_missing():
    frame = pd.DataFrame({a.name: [0, 1] for a in MARKET_SCHEMA.attributes}, index=[1, 2])
    frame.loc[2, "age"] = -1
    ind = attribute_indicators(frame, MARKET_SCHEMA)
    for name in ("male", "female", "long hair", "short sleeve", "dress", "backpack", "other bag", "red upper-body",
                 "pink lower-body", "teenager"):
        assert name in ind.columns, name
    assert ind.loc[2, "female"] == 1 and ind.loc[1, "male"] == 1
    assert np.isnan(ind.loc[2, "teenager"]) and ind.loc[1, "young"] == 1


def test_colour_counts_report_none_and_several(market_mat):
    tables = load_attribute_annotations(market_mat)
    up = colour_counts(tables["train"], MARKET_SCHEMA, "up")
    assert up["none marked"] == 78 and up["several marked"] == 0       # PAPER.md §2.1
    assert up.drop(["none marked", "several marked"]).sum() + 78 == 751
    counts = positive_counts(tables["train"], MARKET_SCHEMA)
    assert counts["male"] + counts["female"] == 751
    assert counts[["young", "teenager", "adult", "old"]].sum() == 751


def test_duke_quirks_and_split_differences(duke_mat):
    tables = load_attribute_annotations(duke_mat)
    quirks = quirk_summary(tables, DUKE_SCHEMA)
    assert quirks.loc["2 C.low colours", "test"] + quirks.loc["3 C.low colours", "test"] == 23   # PAPER.md §2.2
    assert quirks.loc["top unlabelled", "train"] == 2
    diff = split_differences(tables, DUKE_SCHEMA)
    assert diff.loc["male", "test − train"] == pytest.approx(diff.loc["male", "test %"] - diff.loc["male", "train %"],
                                                             abs=0.02)


def test_paper_tables_are_consistent_with_themselves():
    for dataset in ("market1501", "dukemtmc"):
        table = paper.attribute_table(dataset)
        means = table.drop(columns="Avg").mean(axis=1)
        assert np.allclose(means, table["Avg"], atol=0.06), (dataset, means)   # printed Avg is the rounded mean
    assert paper.headline("market1501")["apr"] == (87.04, 66.89)
    assert paper.headline("dukemtmc")["ide"] == (64.22, 43.50)
    assert set(paper.FIG6_MARKET) == set(REMOVALS["market1501"]) and set(paper.FIG6_DUKE) == set(REMOVALS["dukemtmc"])
    assert len(paper.FIG9_TAU) == len(paper.FIG9_GALLERY_PCT) == len(paper.FIG9_RANK1)
    with pytest.raises(ValueError, match="market1501 and dukemtmc"):
        paper.attribute_table("peta")


def test_book_plan_trains_each_configuration_once_and_leaves_out_what_it_says():
    configs = book_configs(BookParameters(scale="smoke"))
    assert len(configs) == len(set(configs))
    assert {c.variant for c in configs} == {"ide", "arn", "apr", "apr_no_arm", "apr_no_attr_loss"}
    quick = BookParameters(leave_one_out=True)
    removals = leave_one_out_configs(quick)
    assert removals["none"].attributes is None
    kept = set(removals["bag (all types)"].attributes)
    assert not kept & {"backpack", "handbag", "bag"} and len(kept) == 24
    assert not set(removals["upper-body colour"].attributes) & set(MARKET_SCHEMA.group("C.up").members)
    assert sorted(lambda_configs(quick)) == sorted(set(lambda_configs(quick)))
    assert leave_one_out_configs(BookParameters(dataset="peta", scale="smoke")) == {}


def test_book_plan_seeds_every_compared_model_and_sweeps_lambda_on_validation():
    from collections import Counter

    from apr.experiments.configs import SEEDED_LAMBDAS, VALIDATION_IDS

    configs = book_configs(BookParameters(seeds=6, ablation_seeds=3, leave_one_out=True))
    main = Counter(c.variant for c in configs if c.validation_ids == 0 and c.attributes is None)
    # Table 1's models get `seeds`, APR's ablations `ablation_seeds` (the first of APR's training seeds); APR and
    # APR w/o ARM once in each reading of Eq. 6
    assert main == {"ide": 6, "arn": 6, "apr": 12, "apr_no_arm": 6, "apr_no_attr_loss": 3}
    assert {c.train_seed for c in configs if c.variant == "apr_no_arm"} == {0, 1, 2}
    epochs = configs[0].epochs
    # the convergence check: IDE and APR on the validation split for a third, two thirds and all of the schedule
    shorter = Counter((c.variant, c.epochs) for c in configs if c.validation_ids and c.epochs < epochs)
    assert shorter == {("ide", 7): 2, ("ide", 13): 2, ("apr", 7): 2, ("apr", 13): 2}
    assert sum(1 for c in configs if c.validation_ids and c.variant == "ide" and c.epochs == epochs) == 2
    validation = [c for c in configs if c.validation_ids and c.variant == "apr" and c.epochs == epochs]
    assert {c.validation_ids for c in validation} == {VALIDATION_IDS["quick"]}
    lambdas = Counter(c.lambda_id for c in validation)
    assert len(lambdas) >= 6 and {0.0, 1.0} <= set(lambdas) and {0.7, 0.8, 0.9} <= set(lambdas)
    assert all(lambdas[k] == (3 if k in SEEDED_LAMBDAS else 1) for k in lambdas) and 0.9 in SEEDED_LAMBDAS
    # Fig. 6's reference (APR with every attribute) is the seeded main APR; each removal is trained once
    assert sum(1 for c in configs if c.attributes is not None) == len(REMOVALS["market1501"])


def test_the_ablations_seed_count_defaults_to_three_and_never_exceeds_table_1s():
    from collections import Counter

    from apr.experiments.parameters import DEFAULT_ABLATION_SEEDS

    assert BookParameters(seeds=8).ablation_runs == DEFAULT_ABLATION_SEEDS == 3
    assert BookParameters(seeds=2).ablation_runs == 2
    eight = BookParameters(seeds=8)
    assert eight.runs_for("apr") == 8 and eight.runs_for("apr_no_arm") == 3
    assert BookParameters(seeds=8, ablation_seeds=8).runs_for("apr_no_arm") == 8
    with pytest.raises(ValueError, match="ablation_seeds=5: expected a whole number from 1 to seeds"):
        BookParameters(seeds=4, ablation_seeds=5)
    with pytest.raises(ValueError,
                       match=r"book parameter ablation_seeds=9: expected a whole number from 1 to seeds \(8\)"):
        BookParameters(scale="smoke", seeds=8, ablation_seeds=9)
    default = Counter((c.variant, c.attribute_loss_reduction) for c in book_configs(BookParameters())
                      if c.validation_ids == 0 and c.attributes is None)
    assert default == {("ide", "mean"): 4, ("arn", "mean"): 4, ("apr", "sum"): 4, ("apr", "mean"): 4,
                       ("apr_no_arm", "sum"): 3, ("apr_no_arm", "mean"): 3, ("apr_no_attr_loss", "mean"): 3}


def test_every_training_seed_starts_from_the_data_seeds_one_pretraining():
    from apr.engine.pretrain import PRETRAIN_EPOCHS, pretrain_config

    first, second = (BookParameters().main_config(train_seed=k) for k in (0, 1))
    # like ImageNet weights: one starting point for every training seed and for what the book varies
    assert pretrain_config(first) == pretrain_config(second)
    assert pretrain_config(first) == pretrain_config(replace(first, variant="ide", lambda_id=0.5, validation_ids=20,
                                                             epochs=3, attribute_loss_reduction="mean"))
    assert pretrain_config(first).epochs == PRETRAIN_EPOCHS["quick"] and pretrain_config(first).train_seed == 0
    assert pretrain_config(BookParameters(seed=1).main_config()) != pretrain_config(first)   # the data seed's own


def test_a_longer_pretraining_is_its_own_starting_point():
    from apr.engine.pretrain import PRETRAIN_EPOCHS, pretrain_config

    usual = BookParameters().main_config()
    longer = replace(usual, pretrain_epochs=2 * PRETRAIN_EPOCHS["quick"])
    assert pretrain_config(longer).epochs == 2 * PRETRAIN_EPOCHS["quick"]
    assert pretrain_config(longer).pretrain_epochs == 0 and pretrain_config(longer).pretrained == "none"
    # the fine-tuned run starts elsewhere, so it is another cache entry
    assert longer.key() != usual.key() and pretrain_config(longer).key() != pretrain_config(usual).key()
    with pytest.raises(ValueError, match="pretrain_epochs=5: .*pretrained=synthetic"):
        replace(usual, pretrained="none", pretrain_epochs=5)


def test_the_validation_split_holds_out_training_identities(tmp_path):
    from apr.data.synthetic import SynthConfig, generate_synthetic
    from apr.data.datasets import load_dataset
    from apr.data.validation import hold_out_validation

    generate_synthetic(tmp_path / "synth", SynthConfig(num_train_ids=12, num_test_ids=4, seed=3), progress=False)
    data = load_dataset("synthetic", tmp_path / "synth")
    split = hold_out_validation(data, 3, seed=0)
    held = {r.pid for r in split.gallery}
    assert len(held) == 3 and not held & {r.pid for r in split.train}
    assert {r.pid for r in split.query} <= held and len(split.train) + len(split.gallery) == len(data.train)
    assert split.attributes["gallery"].shape[0] == len(split.gallery)
    for q in split.query:       # every query has a match in another camera
        assert any(g.pid == q.pid and g.camid != q.camid for g in split.gallery)
    assert hold_out_validation(data, 3, seed=0).query == split.query        # seeded
    with pytest.raises(ValueError, match="validation_ids=12: expected 1 to 11"):
        hold_out_validation(data, 12, seed=0)


def test_results_cache_trains_once_and_retrains_only_changed_settings(tmp_path):
    from apr.experiments.cache import load_or_train, load_or_train_many, run_dir_for

    config = BookParameters(scale="smoke").main_config(epochs=1)
    first = load_or_train(config, cache=tmp_path, progress=False)
    stamp = (first.run_dir / "model.pt").stat().st_mtime_ns
    again = load_or_train(config, cache=tmp_path, progress=False)
    assert again.run_dir == first.run_dir and (again.run_dir / "model.pt").stat().st_mtime_ns == stamp
    assert 0 <= again.metrics["rank1"] <= 1 and again.features()["query"]["features"].shape[0] > 0
    other, third = (BookParameters(scale="smoke").main_config(epochs=1, lambda_id=lam) for lam in (0.5, 0.7))
    runs = load_or_train_many([config, other, third], cache=tmp_path, progress=False, workers=2)  # two worker processes
    assert runs[0].run_dir == first.run_dir and runs[1].run_dir == run_dir_for(other, tmp_path) != first.run_dir
    assert runs[2].config.lambda_id == 0.7 and runs[2].info["config"]["lambda_id"] == 0.7
    assert (first.run_dir / "model.pt").stat().st_mtime_ns == stamp


def test_ranked_lists_follow_the_protocol():
    dist = np.array([[0.1, 0.2, 0.3, 0.4, 0.5]])
    g_pids, g_camids = np.array([7, -1, 7, 3, 7]), np.array([1, 2, 2, 1, 3])
    (ranked,) = ranked_lists(dist, np.array([7]), g_pids, np.array([1]), g_camids, [0], top=3)
    assert ranked.tolist() == [2, 3, 4]      # same id + camera and junk skipped


def test_enlarge_gallery_resamples_real_images():
    feats = np.eye(4, dtype=np.float32)
    pred = AttributePredictions(np.arange(8).reshape(4, 2) % 2, np.full((4, 2), 0.9), (2, 2))
    big, big_pred = enlarge_gallery(feats, pred, 100, seed=1)
    assert big.shape == (100, 4) and len(big_pred) == 100
    nearest = np.argmin(((big[:, None, :] - feats[None]) ** 2).sum(-1), 1)
    assert (big_pred.classes == pred.classes[nearest]).all()
    with pytest.raises(ValueError, match="size=0"):
        enlarge_gallery(feats, pred, 0)


def test_synthetic_pretraining_is_shared_and_disjoint(tmp_path, monkeypatch):
    from apr.engine.pretrain import PRETRAIN_SEED_OFFSET, pretrain_config
    from apr.experiments.cache import load_or_train_many

    monkeypatch.setenv("APR_CACHE_DIR", str(tmp_path))
    a = BookParameters(scale="smoke").main_config(epochs=1, pretrained="synthetic")
    b = BookParameters(scale="smoke").main_config(epochs=1, pretrained="synthetic", variant="ide", lambda_id=0.5)
    assert pretrain_config(a) == pretrain_config(b)
    assert pretrain_config(a).seed == a.seed + PRETRAIN_SEED_OFFSET and pretrain_config(a).pretrained == "none"
    runs = load_or_train_many([a, b], progress=False)
    pretrain_runs = [d for d in tmp_path.iterdir() if (d / "backbone.pt").is_file()]
    assert len(pretrain_runs) == 1
    for run in runs:
        assert str(pretrain_runs[0] / "backbone.pt") in run.info["initialisation"]
    pre_root, own_root = (load_or_train_many([pretrain_config(a)], progress=False)[0].info["dataset_root"],
                          runs[0].info["dataset_root"])
    assert pre_root != own_root       # another synthetic population


def test_interval_words_name_the_runs():
    from apr.book.report import interval_words
    from apr.evaluation.stats import Interval

    assert interval_words(Interval(1.84, -3.69, 7.37, (3, 3), 217)) == \
        "+1.84 points (95% interval -3.69 to +7.37; 3 and 3 training runs, 217 queries)"


def test_shown_rounds_and_dashes_without_a_warning():
    import warnings

    from apr.book.report import shown

    table = pd.DataFrame({"source": ["a", None], "R-1": [69.1234, np.nan], "R-5": [89.4, 90.0], "n": [3, 4]})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = shown(table)
    assert out["R-1"].tolist() == ["69.12", "–"] and out["R-5"].tolist() == ["89.40", "90.00"]
    assert out["source"].tolist() == ["a", "–"] and out["n"].tolist() == [3, 4]


def note_finished_runs(note: Path, run_dirs: list[Path]) -> None:
    """A follow-up for the training pool (module level: a worker process imports it): which runs it found done."""
    note.write_text(json.dumps([(d / "complete.json").is_file() for d in run_dirs]))


def test_runs_of_every_training_seed_start_from_the_one_pretraining_when_they_train_side_by_side(monkeypatch, tmp_path):
    """Three training seeds share one pretraining run: the pool generates the synthetic sets, trains the
    pretraining first and queues each run once the pretraining and its data are there; every run must start
    from that backbone. A follow-up runs in the pool, once, after the runs it needs."""
    from apr.engine.run_data import synthetic_root_of
    from apr.engine.pretrain import pretrain_config
    from apr.experiments.cache import FollowUp, load_or_train_many, run_dir_for

    monkeypatch.setenv("APR_CACHE_DIR", str(tmp_path))     # the workers inherit it
    # A data seed of this test's own, whose synthetic sets are removed first: the pool must generate them.
    configs = [BookParameters(scale="smoke", seed=7).main_config(pretrained="synthetic", epochs=1,
                                                                 train_seed=k) for k in range(3)]
    roots = [synthetic_root_of(c) for c in (configs[0], pretrain_config(configs[0]))]
    for root in roots:
        shutil.rmtree(root, ignore_errors=True)
    note = tmp_path / "follow-up.json"
    follow_up = FollowUp(note_finished_runs, (note, [run_dir_for(c) for c in configs[:2]]), tuple(configs[:2]))
    records = load_or_train_many(configs, workers=2, progress=False, follow_ups=[follow_up])
    for config, record in zip(configs, records):
        backbone = run_dir_for(pretrain_config(config)) / "backbone.pt"
        assert str(backbone) in record.info["initialisation"], (config.train_seed, record.info["initialisation"])
    assert len({r.info["initialisation"] for r in records}) == 1
    assert all((root / "synthetic.json").is_file() for root in roots)
    assert json.loads(note.read_text()) == [True, True]


def test_each_variant_keeps_its_colour_and_style_in_every_panel():
    """Issue 15: a panel that skips a variant (IDE has no attribute head) must not shift the others' colours."""
    from apr.experiments.configs import VARIANT_NAMES
    from apr.book.plots import VARIANT_STYLES, training_curves_figure

    rows = [{"variant": VARIANT_NAMES[v], "epoch": e, "loss": 1.0 / e, "id_acc": 0.0 if v == "arn" else e / 10,
             "attr_acc": 0.0 if v == "ide" else e / 20} for v in VARIANT_NAMES for e in (1, 2, 3)]
    fig = training_curves_figure(pd.DataFrame(rows))
    seen = {}
    for ax in fig.axes:
        for line in ax.get_lines():
            style = (matplotlib.colors.to_hex(line.get_color()), line.get_linestyle())
            expected = VARIANT_STYLES[line.get_label()]
            assert style == (matplotlib.colors.to_hex(expected[0]),
                             {"-": "-", "--": "--", "-.": "-.", ":": ":"}[expected[1]]), line.get_label()
            seen.setdefault(line.get_label(), style)
            assert seen[line.get_label()] == style
    assert set(seen) == set(VARIANT_NAMES.values())
    assert len({c for c, _ in VARIANT_STYLES.values()}) == len(VARIANT_STYLES)      # no two variants share a colour


def test_attribute_recognition_table_measures_the_build_dataset_and_says_what_the_others_need(tmp_path):
    from apr.book.report import attribute_recognition_table
    from apr.experiments.cache import RunRecord

    def runs(accuracies: list[float]) -> list[RunRecord]:
        base = BookParameters(scale="smoke").main_config()
        return [RunRecord(replace(base, train_seed=k), tmp_path, {"metrics": {"attribute_accuracy": {"mean": a}}})
                for k, a in enumerate(accuracies)]

    table = attribute_recognition_table({"synthetic": {"arn": runs([0.70, 0.72, 0.71]),
                                                       "apr": runs([0.75, 0.78, 0.76])}})
    assert list(table.index.get_level_values("dataset")) == ["Market-1501", "DukeMTMC-reID", "PETA", "CUB-200-2011"]
    market = table.loc[("Market-1501", "Table 4")]
    assert market["APR (paper)"] == "86.60" and market["APR − ARN (paper)"] == "+0.60"
    assert market["ARN (this build)"] == "71.00 ± 1.00" and market["ran on"] == "synthetic stand-in"
    assert market["verdict"] == "as large as claimed" and market["needs"] == "–"   # +5.33 points, paired by seed
    others = table.drop(index=("Market-1501", "Table 4"))
    assert (others["verdict"] == "not run here").all() and (others["ARN (this build)"] == "–").all()
    assert "DATASET=dukemtmc" in others.loc[("DukeMTMC-reID", "Table 5"), "needs"]
    assert "CUB_200_2011 under the data root" in others.loc[("CUB-200-2011", "Table 7"), "needs"]
    duke = attribute_recognition_table({"synthetic_duke": {"arn": runs([0.8]), "apr": runs([0.79])}})
    assert duke.loc[("DukeMTMC-reID", "Table 5"), "verdict"] == "this build cannot tell"   # one run of each
    assert duke.loc[("Market-1501", "Table 4"), "verdict"] == "not run here"


def test_the_book_trains_both_readings_of_eq_6_and_leaves_fig_6_to_scales_that_can_decide_it():
    from collections import Counter

    from apr.experiments.configs import leave_one_out_configs, other_reading_configs

    book = BookParameters()
    assert (book.reading, book.other_reading) == ("sum", "mean")
    other = other_reading_configs(book)
    assert {v: [(c.attribute_loss_reduction, c.train_seed) for c in cs] for v, cs in other.items()} == {
        "apr": [("mean", k) for k in range(4)], "apr_no_arm": [("mean", k) for k in range(3)]}
    flipped = BookParameters(reading="mean")
    assert flipped.main_config().attribute_loss_reduction == "mean"
    assert other_reading_configs(flipped)["apr"][0].attribute_loss_reduction == "sum"
    # one IDE, ARN and APR w/o attri serve both readings: they read no attribute term
    both = Counter((c.variant, c.attribute_loss_reduction) for c in book_configs(book) if not c.validation_ids)
    assert both[("ide", "mean")] == 4 and not both[("ide", "sum")] and not both[("apr_no_attr_loss", "sum")]
    with pytest.raises(ValueError, match="book parameter reading='avg': expected mean"):
        BookParameters(reading="avg")

    assert not book.trains_leave_one_out and leave_one_out_configs(book) == {}
    assert not any(c.attributes is not None for c in book_configs(book))
    assert BookParameters(leave_one_out=True).trains_leave_one_out
    assert BookParameters(scale="smoke").trains_leave_one_out and BookParameters(scale="paper").trains_leave_one_out
    assert len(leave_one_out_configs(BookParameters(leave_one_out=True))) == len(REMOVALS["market1501"]) + 1
    with pytest.raises(ValueError, match="leave_one_out='yes': expected true, false or None"):
        BookParameters(leave_one_out="yes")
    assert BookParameters(leave_one_out=False).is_default is False
