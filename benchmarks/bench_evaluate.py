"""Benchmark evaluate_ranking at Market-1501 scale (3,368 queries x 15,913 gallery).

Prints seconds for: the distance matrix; apr's evaluate_ranking (both AP rules); the
toolboxes' Cython evaluator, built here from fast-reid's ``rank_cy.pyx`` (``--cython``; a
descendant of torchreid's, whose own ``.pyx`` is missing from its PyPI sdist so it cannot
be built); a lower bound of torchreid's evaluator (the whole-matrix argsort and match
matrix it runs before its C loop); and a plain per-query vectorised loop of the kind the
toolboxes fall back to when their extension does not build. Results are checked to agree.

    .venv/bin/python benchmarks/bench_evaluate.py [--threads 2] [--repeat 5] [--device cpu|cuda] [--cython]

``--cython`` needs ``pip install 'apr[bench]'`` (Cython), a C compiler and PyPI: it
downloads the fastreid 1.4.0 wheel once and builds its evaluator under
``benchmarks/_build/`` (git-ignored); nothing of it enters the package.
"""

from __future__ import annotations

import argparse
import importlib
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import numpy as np
import torch

from apr.evaluation.metrics import evaluate_ranking, pairwise_distances


def market_like_case(seed: int = 0, dim: int = 539):
    """Ids, cameras and features shaped like Market-1501's test split (junk already removed,
    as torchreid loads it): 750 ids + distractors; 3,368 queries; 15,913 gallery."""
    rng = np.random.default_rng(seed)
    ids = np.arange(1, 751)
    g_pids = np.concatenate([rng.choice(ids, 13115), np.zeros(2798, int)])
    g_pids[:750] = ids                                  # every id in the gallery
    q_pids = np.concatenate([ids, rng.choice(ids, 3368 - 750)])
    g_cams, q_cams = rng.integers(1, 7, g_pids.size), rng.integers(1, 7, q_pids.size)
    centres = rng.normal(size=(751, dim)).astype(np.float32)
    g_feat = centres[g_pids] + 2.2 * rng.normal(size=(g_pids.size, dim)).astype(np.float32)
    q_feat = centres[q_pids] + 2.2 * rng.normal(size=(q_pids.size, dim)).astype(np.float32)
    return q_feat, g_feat, q_pids, g_pids, q_cams, g_cams


def per_query_loop(distmat, q_pids, g_pids, q_camids, g_camids, max_rank=50):
    """The common Python evaluator: argsort every row, drop same id+camera, cumsum (step AP)."""
    indices = np.argsort(distmat, axis=1)
    matches = (g_pids[indices] == q_pids[:, None]).astype(np.int32)
    cmcs, aps = [], []
    for q in range(distmat.shape[0]):
        order = indices[q]
        keep = ~((g_pids[order] == q_pids[q]) & (g_camids[order] == q_camids[q]))
        raw = matches[q][keep]
        if not raw.any():
            continue
        cmc = raw.cumsum()
        cmc[cmc > 1] = 1
        cmcs.append(cmc[:max_rank])
        hits = raw.cumsum() / (np.arange(raw.size) + 1.0)
        aps.append((hits * raw).sum() / raw.sum())
    return np.mean(cmcs, 0), float(np.mean(aps))


def cython_evaluator_floor(distmat, q_pids, g_pids):
    """The two whole-matrix numpy steps torchreid's Cython ``eval_market1501_cy`` runs before
    its C loop (``np.argsort(distmat, axis=1)`` and the int64 match matrix). Their time is a
    lower bound of that evaluator's time on this machine, measurable without building it."""
    indices = np.argsort(distmat, axis=1)
    return (g_pids[indices] == q_pids[:, np.newaxis]).astype(np.int64)


FASTREID_WHEEL = "fastreid==1.4.0"
PYX_IN_WHEEL = "fastreid/evaluation/rank_cylib/rank_cy.pyx"
BUILD_DIR = Path(__file__).resolve().parent / "_build"


def toolbox_file(member: str, build_dir: Path = BUILD_DIR) -> bytes:
    """One file of the fastreid wheel (downloaded once into ``build_dir``), to run the toolbox's own code beside
    apr's; nothing of it enters the package."""
    build_dir.mkdir(parents=True, exist_ok=True)
    wheels = list(build_dir.glob("fastreid-*.whl"))
    if not wheels:
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", str(build_dir), FASTREID_WHEEL]
        if subprocess.run(cmd).returncode != 0:
            raise RuntimeError(f"could not download {FASTREID_WHEEL} from PyPI ({' '.join(cmd)})")
        wheels = list(build_dir.glob("fastreid-*.whl"))
    return zipfile.ZipFile(wheels[0]).read(member)


def build_toolbox_cython(build_dir: Path = BUILD_DIR):
    """Build fast-reid's Cython evaluator (``rank_cy.evaluate_cy``) and import it.

    Returns the module, or raises RuntimeError saying which step failed."""
    build_dir.mkdir(parents=True, exist_ok=True)
    if str(build_dir) not in sys.path:
        sys.path.insert(0, str(build_dir))
    if not list(build_dir.glob("rank_cy*.so")):
        pyx = build_dir / "rank_cy.pyx"
        if not pyx.exists():
            pyx.write_bytes(toolbox_file(PYX_IN_WHEEL, build_dir))
        setup = ("from setuptools import setup, Extension; import numpy; from Cython.Build import cythonize; "
                 "setup(ext_modules=cythonize([Extension('rank_cy', ['rank_cy.pyx'], "
                 "include_dirs=[numpy.get_include()])],"
                 " language_level=3), script_args=['build_ext', '--inplace', '-q'])")
        out = subprocess.run([sys.executable, "-c", setup], cwd=build_dir, capture_output=True, text=True)
        if out.returncode != 0:
            raise RuntimeError("building rank_cy.pyx failed (needs Cython: pip install 'apr[bench]', and a C "
                               "compiler):\n"
                               f"{out.stderr[-2000:]}")
    return importlib.import_module("rank_cy")


def timed(fn, repeat):
    best, out = float("inf"), None
    for _ in range(repeat):
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        t = time.perf_counter()
        out = fn()
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        best = min(best, time.perf_counter() - t)
    return best, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--skip-loop", action="store_true", help="skip the slow per-query loop")
    parser.add_argument("--cython", action="store_true", help="build and time fast-reid's Cython evaluator")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    q_feat, g_feat, q_pids, g_pids, q_cams, g_cams = market_like_case()
    dev = torch.device(args.device)
    print(f"device={dev} threads={torch.get_num_threads()} queries={len(q_pids)} gallery={len(g_pids)}")
    t_dist, dist = timed(lambda: pairwise_distances(q_feat, g_feat, device=dev), args.repeat)
    print(f"distance matrix            {t_dist:8.3f} s")
    qp, gp, qc, gc = (torch.as_tensor(x, device=dev) for x in (q_pids, g_pids, q_cams, g_cams))
    t_off, (cmc, m_off) = timed(lambda: evaluate_ranking(dist, qp, gp, qc, gc, ap_mode="official"), args.repeat)
    t_step, (cmc_s, m_step) = timed(lambda: evaluate_ranking(dist, qp, gp, qc, gc, ap_mode="step"), args.repeat)
    print(f"apr evaluate (official AP) {t_off:8.3f} s   rank-1 {cmc[0]:.4f}  mAP {m_off:.4f}")
    print(f"apr evaluate (step AP)     {t_step:8.3f} s   rank-1 {cmc_s[0]:.4f}  mAP {m_step:.4f}")
    print(f"distance + evaluate        {t_dist + t_off:8.3f} s")
    d_np = dist.cpu().numpy()
    t_floor, _ = timed(lambda: cython_evaluator_floor(d_np, q_pids.astype(np.int64), g_pids.astype(np.int64)),
                       args.repeat)
    print(f"torchreid Cython floor     {t_floor:8.3f} s   (its argsort + match matrix alone; the C loop comes on top)")
    print(f"speed-up vs that floor     {t_floor / t_off:8.1f} x   "
          "(a lower bound of the speed-up vs torchreid's Cython)")
    if args.cython:
        rank_cy = build_toolbox_cython()
        t_cy, (cmc_cy, ap_cy, _inp) = timed(lambda: rank_cy.evaluate_cy(d_np, q_pids, g_pids, q_cams, g_cams, 50),
                                            args.repeat)
        agree = np.allclose(cmc_cy, cmc_s, atol=1e-6) and abs(float(np.mean(ap_cy)) - m_step) < 1e-5
        print(f"fast-reid Cython evaluator {t_cy:8.3f} s   rank-1 {cmc_cy[0]:.4f}  mAP {float(np.mean(ap_cy)):.4f}"
              f"  (results agree: {agree})")
        print(f"speed-up vs Cython         {t_cy / t_step:8.1f} x   (step AP, the rule it computes)")
    # An untrained model: random distances put matches anywhere, so no part of the gallery
    # can be skipped (the evaluator's worst case).
    rand = torch.rand(dist.shape, generator=torch.Generator().manual_seed(0)).to(dev)
    t_rand, _ = timed(lambda: evaluate_ranking(rand, qp, gp, qc, gc, ap_mode="step"), args.repeat)
    print(f"apr evaluate, random dist. {t_rand:8.3f} s   (an untrained model: the worst case)")
    if args.cython:
        rand_np = rand.cpu().numpy()
        t_cy_rand, _ = timed(lambda: rank_cy.evaluate_cy(rand_np, q_pids, g_pids, q_cams, g_cams, 50), args.repeat)
        print(f"Cython, random distances   {t_cy_rand:8.3f} s   ({t_cy_rand / t_rand:.1f} x)")
    if not args.skip_loop:
        t_loop, (cmc_l, m_loop) = timed(lambda: per_query_loop(d_np, q_pids, g_pids, q_cams, g_cams), 1)
        print(f"per-query numpy loop       {t_loop:8.3f} s   rank-1 {cmc_l[0]:.4f}  mAP {m_loop:.4f}")
        agree = np.allclose(cmc_l, cmc_s) and abs(m_loop - m_step) < 1e-6
        print(f"speed-up vs loop           {t_loop / t_step:8.1f} x   (results agree: {agree})")


if __name__ == "__main__":
    main()
