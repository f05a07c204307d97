"""Each hot path's speed as a ratio against a simple reference timed in the same run.

A ratio compares two computations on the same machine, at the same moment, in the same process, interleaved
(reference, apr, reference, apr, ...) and summarised by the median over repeats: a faster or busier machine speeds
up or slows down both alike, so the ratio moves far less than either time. ``tests/test_speed_ratios.py`` runs this
script and fails when a ratio falls below half of the floor recorded in ``benchmarks/ratio_floors.json``.

    .venv/bin/python benchmarks/bench_ratios.py [--repeat 5] [--only evaluation ...] [--json out.json]

Paths and references (ratio = reference seconds / apr seconds, higher is faster):

- ``evaluation``: ``evaluate_ranking`` on 300 queries x a Market-size gallery (15,913) against the per-query numpy
  loop the toolboxes fall back to (argsort each row, drop same id and camera, cumulative sums).
- ``rerank``: ``k_reciprocal_rerank`` against the literal one-image-at-a-time transcription of Zhong et al.'s
  equations that ``tests/test_rerank.py`` checks it against (60 queries, 240 gallery).
- ``filtered_search``: ``AttributeIndex.search`` at tau = 0.9 against the exhaustive top-10 search on the same
  40,000-image gallery, per query (the speed-up of attribute filtering; the kept share is printed).
- ``extractor``: ``Extractor`` on 128 uint8 images against the same model called on one image at a time.
- ``train_step``: the trainer's epoch (``train_one_epoch``, quick preset's backbone and image size) against a plain
  loop of forward, Eq. 6 loss, backward and SGD on pre-normalised batches of the same size: the trainer's overhead
  (data path, augmentation, bookkeeping) shows as a ratio below 1.

Every timing runs on one thread (``torch.set_num_threads(1)``), as ``make test`` does.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))                      # the tests' literal re-ranking reference
sys.path.insert(0, str(REPO / "benchmarks"))       # the sibling benchmarks' cases

PATHS = ("evaluation", "rerank", "filtered_search", "extractor", "train_step")


def interleaved_ratio(reference: Callable[[], object], candidate: Callable[[], object], repeat: int) -> dict:
    """Median of reference / candidate seconds over ``repeat`` interleaved pairs, after one warm-up of each."""
    reference()
    candidate()
    ratios, ref_s, cand_s = [], [], []
    for _ in range(repeat):
        t = time.perf_counter()
        reference()
        r = time.perf_counter() - t
        t = time.perf_counter()
        candidate()
        c = time.perf_counter() - t
        ratios.append(r / c)
        ref_s.append(r)
        cand_s.append(c)
    return {"ratio": statistics.median(ratios), "reference_s": statistics.median(ref_s),
            "apr_s": statistics.median(cand_s)}


def evaluation_case(repeat: int) -> dict:
    from bench_evaluate import market_like_case, per_query_loop

    from apr.evaluation.metrics import evaluate_ranking, pairwise_distances

    q_feat, g_feat, q_pids, g_pids, q_cams, g_cams = market_like_case()
    q_feat, q_pids, q_cams = q_feat[:300], q_pids[:300], q_cams[:300]
    dist = pairwise_distances(q_feat, g_feat, device="cpu").numpy()
    out = interleaved_ratio(lambda: per_query_loop(dist, q_pids, g_pids, q_cams, g_cams),
                            lambda: evaluate_ranking(dist, q_pids, g_pids, q_cams, g_cams, ap_mode="step"), repeat)
    return out | {"size": f"{dist.shape[0]} x {dist.shape[1]}"}


def rerank_case(repeat: int) -> dict:
    from apr.evaluation.metrics import pairwise_distances
    from apr.evaluation.rerank import k_reciprocal_rerank
    from tests.test_rerank import clustered, reference_rerank

    rng = np.random.default_rng(0)
    feats, _ = clustered(rng, 30, 10)
    q, g = feats[:60], feats[60:]
    q_g, q_q, g_g = (pairwise_distances(a, b, device="cpu").numpy().astype(np.float64)
                     for a, b in ((q, g), (q, q), (g, g)))
    out = interleaved_ratio(lambda: reference_rerank(q_g, q_q, g_g, 20, 6, 0.3),
                            lambda: k_reciprocal_rerank(q_g, q_q, g_g, k1=20, k2=6, lambda_value=0.3), repeat)
    return out | {"size": f"{len(q)} x {len(g)}"}


def filtered_search_case(repeat: int) -> dict:
    from bench_acceleration import synthetic_predictions

    from apr.data.synthetic import sample_from_prior
    from apr.evaluation.retrieval import AttributeIndex, encode, exhaustive_search

    rng = np.random.default_rng(0)
    size, queries, dim, tau = 40_000, 40, 539, 0.9
    n_ids = size // 20
    id_attrs = sample_from_prior(n_ids, rng).to_numpy()
    g_ids, q_ids = rng.integers(0, n_ids, size), rng.integers(0, n_ids, queries)
    centres = rng.normal(size=(n_ids, dim)).astype(np.float32)
    g_feat = centres[g_ids] + rng.normal(size=(size, dim)).astype(np.float32)
    q_feat = centres[q_ids] + rng.normal(size=(queries, dim)).astype(np.float32)
    g_pred, q_pred = synthetic_predictions(id_attrs[g_ids], rng), synthetic_predictions(id_attrs[q_ids], rng)
    index = AttributeIndex(g_feat, g_pred, tau)
    g_norms = (g_feat ** 2).sum(1)
    q_r, q_p = encode(q_pred, tau)
    kept = np.mean([index.candidates(q_r[i], q_p[i]).size for i in range(queries)]) / size

    def exhaustive():
        for i in range(queries):
            exhaustive_search(g_feat, g_norms, q_feat[i])

    def filtered():
        for i in range(queries):
            index.search(q_feat[i], q_r[i], q_p[i])

    out = interleaved_ratio(exhaustive, filtered, repeat)
    return out | {"size": f"{queries} queries x {size}", "gallery_kept": float(kept), "ideal": float(1 / kept)}


def _quick_model(num_ids: int = 50, attribute_classes: list[int] | None = None):
    """The quick preset's network (no pretraining), seeded."""
    from apr.config import from_params
    from apr.engine.train import build_model

    config = from_params("quick", pretrained="none", device="cpu")
    torch.manual_seed(0)
    return config, build_model(config, num_ids, attribute_classes or [2] * 26 + [4])


def extractor_case(repeat: int) -> dict:
    from apr.engine.extractor import Extractor

    config, model = _quick_model()
    extractor = Extractor(model, config, [f"a{i}" for i in range(27)], device="cpu")
    images = torch.randint(0, 256, (128, 3, *config.image_size), dtype=torch.uint8,
                           generator=torch.Generator().manual_seed(0))

    def one_at_a_time():
        with torch.no_grad():
            for i in range(len(images)):
                model(extractor._prepare(images[i:i + 1]))

    out = interleaved_ratio(one_at_a_time, lambda: extractor(images), repeat)
    return out | {"size": f"{len(images)} images {config.image_size[0]}x{config.image_size[1]}"}


def train_step_case(repeat: int) -> dict:
    from apr.config import from_params
    from apr.data.tensors import normalize
    from apr.engine.run_data import load_training_data
    from apr.engine.train import train_one_epoch
    from apr.losses import apr_loss

    with tempfile.TemporaryDirectory() as tmp:     # the smoke synthetic set, generated here
        # batch 32: the smoke set's 121 training images hold no full batch of the quick preset's 128
        config = from_params("quick", pretrained="none", device="cpu", synthetic_scale="smoke", data_root=tmp,
                             batch_size=32)
        training = load_training_data(config, torch.device("cpu"), progress=False)
    steps = len(training.data.train) // config.batch_size
    _, model = _quick_model(len(training.labels), training.attribute_classes)
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    gen = torch.Generator().manual_seed(0)
    x = normalize(torch.randint(0, 256, (config.batch_size, 3, *config.image_size), dtype=torch.uint8, generator=gen))
    labels = torch.randint(0, len(training.labels), (config.batch_size,), generator=gen)
    attrs = torch.stack([torch.randint(0, c, (config.batch_size,), generator=gen)
                         for c in training.attribute_classes], 1)

    def plain_steps():
        model.train()
        for _ in range(steps):
            parts = apr_loss(model(x), labels, attrs, "apr", 0.9)
            opt.zero_grad(set_to_none=True)
            parts.total.backward()
            opt.step()

    out = interleaved_ratio(plain_steps, lambda: train_one_epoch(model, opt, training, config, 0, torch.device("cpu"),
                                                                 progress=False), repeat)
    return out | {"size": f"{steps} steps of {config.batch_size} at {config.image_size[0]}x{config.image_size[1]}"}


CASES = {"evaluation": evaluation_case, "rerank": rerank_case, "filtered_search": filtered_search_case,
         "extractor": extractor_case, "train_step": train_step_case}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--only", nargs="+", choices=PATHS, default=list(PATHS))
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    torch.set_num_threads(1)
    print(f"cpu capability={torch.backends.cpu.get_cpu_capability()} threads={torch.get_num_threads()} "
          f"repeat={args.repeat}")
    print(f"{'path':16} {'reference s':>12} {'apr s':>9} {'ratio':>8}  size")
    results = {}
    for name in args.only:
        r = results[name] = CASES[name](args.repeat)
        extra = f"  (kept {r['gallery_kept']:.1%}, ideal x{r['ideal']:.1f})" if "ideal" in r else ""
        print(f"{name:16} {r['reference_s']:12.4f} {r['apr_s']:9.4f} {r['ratio']:8.2f}  {r['size']}{extra}", flush=True)
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
