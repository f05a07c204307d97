"""Concurrency, untrusted files and API edge cases (issue 31): one writer per run folder, healing that never reaches
outside the cache or deletes what it cannot rebuild, files read without running code, markup shown as text, inputs
checked where the public API takes them, and every error naming its file.

Nothing here waits for an amount of time: processes meet at barriers, and a slow server is bounded by a deadline
that the test only checks was hit, never how fast.
"""

from __future__ import annotations

import errno
import http.server
import json
import multiprocessing
import os
import pickle
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import scipy.io
import torch

from apr.config import from_params
from apr.data.attributes import load_attribute_annotations
from apr.data.datasets import DatasetLayoutError, load_dataset
from apr.data.download import RemoteFile, fetch
from apr.data.synthetic import SynthConfig, ensure_synthetic, generate_synthetic, read_synthetic_manifest
from apr.engine.folder_claim import CLAIM_FILE, STALE_SECONDS, FolderClaimed, claim_folder, read_holder
from apr.data.files import HOST_ENV
from apr.engine.runs import CorruptRunFile, load_checkpoint, load_run
from apr.engine.store import SET_ASIDE_DIR
from apr.evaluation.metrics import evaluate_ranking
from apr.evaluation.retrieval import AttributePredictions, acceleration_curve
from apr.evaluation.stats import run_interval, seed_query_interval, verdict_agreement
from apr.experiments.cache import load_or_train, run_dir_for

from .conftest import PausePoint, write_jpeg

ENV = os.environ | {"OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore"}
SMOKE = {"device": "cpu", "epochs": 2}


def run_cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "apr", *args], env=env or ENV, capture_output=True, text=True,
                          timeout=600)


# ---------------------------------------------------------------- 1: one writer per run folder

def _contend(folder: str, barrier, won, release) -> None:
    barrier.wait()
    try:
        with claim_folder(folder):
            won.put(os.getpid())
            release.wait()
    except FolderClaimed as exc:
        won.put(str(exc))


def test_processes_that_claim_one_folder_at_once_get_one_winner(tmp_path):
    """Six processes released by one barrier: exactly one holds the folder, the others are told who does."""
    context = multiprocessing.get_context("fork")
    contenders = 6
    barrier, won, release = context.Barrier(contenders), context.Queue(), context.Event()
    procs = [context.Process(target=_contend, args=(str(tmp_path / "run"), barrier, won, release))
             for _ in range(contenders)]
    for proc in procs:
        proc.start()
    results = [won.get(timeout=120) for _ in range(contenders)]
    release.set()
    for proc in procs:
        proc.join(timeout=120)
    winners = [r for r in results if isinstance(r, int)]
    assert len(winners) == 1, results
    assert all(f"being written by process {winners[0]}" in r for r in results if isinstance(r, str))
    assert not (tmp_path / "run" / CLAIM_FILE).exists()          # released when the holder let go


def test_apr_train_into_a_folder_being_written_exits_naming_the_writer(tmp_path):
    out = tmp_path / "run"
    with claim_folder(out):
        proc = run_cli("train", "--scale", "smoke", "--device", "cpu", "--set", "epochs=1", "--out", str(out))
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines()[-1:] == [
        f"error: '{out}' is being written by {read_holder_text(proc.stderr)}; wait for it to finish or use another "
        "folder"]
    assert f"process {os.getpid()} on host" in proc.stderr
    assert not (out / "run.json").exists()


def read_holder_text(stderr: str) -> str:
    return stderr.split("is being written by ", 1)[1].split("; wait", 1)[0]


def write_claim(folder: Path, host: str, pid: int, age_s: float) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / CLAIM_FILE
    path.write_text(json.dumps({"host": host, "pid": pid, "started": time.time() - age_s}))
    os.utime(path, (time.time() - age_s, time.time() - age_s))


def test_claims_of_dead_holders_are_broken_and_live_ones_respected(tmp_path, monkeypatch):
    monkeypatch.setenv(HOST_ENV, "node-a")
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    write_claim(tmp_path / "same-host-dead", "node-a", int(dead.stdout), 0)
    write_claim(tmp_path / "other-host-stale", "node-b", os.getpid(), STALE_SECONDS + 60)
    write_claim(tmp_path / "other-host-fresh", "node-b", os.getpid(), 0)
    (tmp_path / "unreadable").mkdir()
    (tmp_path / "unreadable" / CLAIM_FILE).write_text('{"host": "node-a", "pi')     # a holder killed mid-write
    for name in ("same-host-dead", "other-host-stale", "unreadable"):
        with claim_folder(tmp_path / name):
            assert read_holder(tmp_path / name).host == "node-a"
    with pytest.raises(FolderClaimed, match=r"being written by process \d+ on host 'node-b'"):
        with claim_folder(tmp_path / "other-host-fresh"):
            pass


def test_a_folder_in_place_of_the_claim_file_is_named(tmp_path):
    (tmp_path / CLAIM_FILE).mkdir()
    with pytest.raises(FolderClaimed, match=r"\.claim\.json' is a folder, not a claim file; remove it"):
        with claim_folder(tmp_path):
            pass


def test_a_holder_may_claim_its_own_folder_again(tmp_path):
    with claim_folder(tmp_path), claim_folder(tmp_path):
        pass
    assert not (tmp_path / CLAIM_FILE).exists()


# ---------------------------------------------------------------- 2, 3: healing stays inside the cache

def copy_of_cached_run(cached_run, tmp_path: Path):
    """(cache, config, entry, metrics): a copy of the module's finished smoke entry in a cache of the test's own."""
    source, metrics = cached_run
    cache = tmp_path / "cache"
    shutil.copytree(source, cache)
    config = from_params("smoke", **SMOKE)
    return cache, config, run_dir_for(config, cache), metrics


def same_scores(a: dict, b: dict) -> bool:
    """The same model's retrieval scores (the timings in a run's metrics differ from run to run)."""
    return a["rank1"] == b["rank1"] and a["mAP"] == b["mAP"]


@pytest.fixture(scope="module")
def cached_run(tmp_path_factory):
    cache = tmp_path_factory.mktemp("cache")
    record = load_or_train(from_params("smoke", **SMOKE), cache=cache, progress=False)
    return cache, record.metrics


@pytest.mark.slow
def test_a_linked_entry_is_unlinked_and_what_it_points_to_kept(cached_run, tmp_path, capsys):
    source, metrics = cached_run
    config = from_params("smoke", **SMOKE)
    entry = run_dir_for(config, source)
    mine = tmp_path / "my-folder"
    shutil.copytree(entry, mine)
    (mine / "run.json").write_text("{ cut short")            # broken as seen from the cache: would be healed
    before = {p.name: p.read_bytes() for p in mine.iterdir()}
    cache = tmp_path / "cache"
    cache.mkdir()
    linked = run_dir_for(config, cache)
    linked.symlink_to(mine, target_is_directory=True)
    again = load_or_train(config, cache=cache, progress=False)
    assert {p.name: p.read_bytes() for p in mine.iterdir()} == before          # nothing deleted where it pointed
    assert f"is a link to '{mine}'; the link is removed" in capsys.readouterr().err
    assert linked.is_dir() and not linked.is_symlink() and same_scores(again.metrics, metrics)


@pytest.mark.slow
def test_another_configurations_run_is_set_aside_not_deleted(cached_run, tmp_path, capsys):
    cache, config, entry, metrics = copy_of_cached_run(cached_run, tmp_path)
    info = json.loads((entry / "run.json").read_text())
    info["key"] = "0123456789ab"
    (entry / "run.json").write_text(json.dumps(info))
    (entry / "notes.txt").write_text("mine")                  # a file the store never wrote
    model = (entry / "model.pt").read_bytes()
    again = load_or_train(config, cache=cache, progress=False)
    warning = capsys.readouterr().err
    assert "was written for another configuration" in warning and f"to '{cache / SET_ASIDE_DIR}" in warning
    [aside] = list((cache / SET_ASIDE_DIR).iterdir())
    assert (aside / "model.pt").read_bytes() == model and (aside / "notes.txt").read_text() == "mine"
    assert json.loads((aside / "run.json").read_text())["key"] == "0123456789ab"
    assert same_scores(again.metrics, metrics)
    assert load_or_train(config, cache=cache, progress=False).metrics == again.metrics      # and it is reused now


# ---------------------------------------------------------------- 10: nothing unpickled

class _Runs:
    """Unpickling this creates the file named in it: proof that a load ran code."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def test_a_crafted_weights_file_is_refused_without_running(tmp_path):
    marker = tmp_path / "ran"
    path = tmp_path / "features.pt"
    torch.save({"query": _Runs(marker)}, path)
    with pytest.raises(CorruptRunFile, match=rf"'{path}' is not a plain weights file"):
        load_checkpoint(path)
    assert not marker.exists()


@pytest.mark.slow
def test_a_crafted_file_in_a_cache_entry_is_healed_not_run(cached_run, tmp_path, capsys):
    cache, config, entry, metrics = copy_of_cached_run(cached_run, tmp_path)
    marker = tmp_path / "ran"
    torch.save({"query": _Runs(marker)}, entry / "features.pt")
    again = load_or_train(config, cache=cache, progress=False)
    again.features()
    assert "is not a plain weights file" in capsys.readouterr().err and not marker.exists()
    assert same_scores(again.metrics, metrics)


def test_apr_extract_refuses_a_crafted_model_without_running_it(tmp_path):
    run = tmp_path / "shared-run"
    run.mkdir()
    marker = tmp_path / "ran"
    (run / "run.json").write_text(json.dumps({"config": from_params("smoke").to_dict()}))
    torch.save({"model": _Runs(marker)}, run / "model.pt")
    proc = run_cli("extract", str(run), "--device", "cpu")
    assert proc.returncode == 1 and not marker.exists()
    assert proc.stderr.strip().splitlines() == [f"error: '{run / 'model.pt'}' is not a plain weights file (it asks to "
                                                "load Python objects or run code); it was not loaded"]


# ---------------------------------------------------------------- 4, 16: synthetic sets

def test_a_full_disk_while_drawing_leaves_no_set_and_names_the_folder(tmp_path, monkeypatch):
    import apr.data.synthetic as synthetic

    saved, real_save = [], synthetic._save

    def save_until_full(img, path, quality):
        if len(saved) == 5:
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        saved.append(path)
        real_save(img, path, quality)

    monkeypatch.setattr(synthetic, "_save", save_until_full)
    config = SynthConfig(num_train_ids=4, num_test_ids=4, max_images_per_camera=1, max_cameras=2)
    out = tmp_path / "set"
    with pytest.raises(OSError, match=rf"could not write the synthetic set to '{out}': No space left on device"):
        generate_synthetic(out, config, progress=False)
    assert list(tmp_path.iterdir()) == []                     # no half set, no staging folder
    monkeypatch.setattr(synthetic, "_save", real_save)
    generate_synthetic(out, config, progress=False)           # the rerun is not told the folder is not empty
    assert load_dataset("synthetic", out, attributes=False).summary()["train"]["ids"] == 4


def test_an_unfinished_synthetic_set_is_not_read_as_one(tiny_synthetic, tmp_path):
    partial = tmp_path / "partial"
    shutil.copytree(tiny_synthetic, partial)
    (partial / "synthetic.json").unlink()
    with pytest.raises(DatasetLayoutError, match=rf"'{partial}' is not a finished synthetic dataset"):
        load_dataset("synthetic", partial, attributes=False)
    proc = run_cli("info", "--dataset", "synthetic", "--root", str(partial))
    assert proc.returncode == 1 and "is not a finished synthetic dataset" in proc.stderr


@pytest.mark.parametrize("text", ['{"config": {"seed": 0,', "[1, 2]", '"a string"', "[" * 100_000])
def test_a_corrupt_synthetic_manifest_is_named(tmp_path, text):
    (tmp_path / "synthetic.json").write_text(text)
    with pytest.raises(ValueError, match=rf"'{tmp_path / 'synthetic.json'}'"):
        read_synthetic_manifest(tmp_path)
    with pytest.raises(ValueError, match=rf"'{tmp_path / 'synthetic.json'}'.*delete the folder"):
        ensure_synthetic(tmp_path, SynthConfig(num_train_ids=4, num_test_ids=4), progress=False)


# ---------------------------------------------------------------- 15: run.json of any shape

@pytest.mark.parametrize("text", ["[" * 100_000 + "]" * 100_000, "[1, 2]", '"run"', "null"])
def test_a_run_json_that_is_no_run_is_named(tmp_path, text):
    (tmp_path / "run.json").write_text(text)
    with pytest.raises(CorruptRunFile, match=rf"'{tmp_path / 'run.json'}'"):
        load_run(tmp_path)


# ---------------------------------------------------------------- 5, 17: rankings

def test_ids_must_be_whole_numbers():
    dist = np.array([[0.1, 0.2]])
    with pytest.raises(ValueError, match=r"q_pids: expected whole-number ids, got nan at position 0"):
        evaluate_ranking(dist, [np.nan], [np.nan, 1.0], [0], [1, 1])
    with pytest.raises(ValueError, match=r"g_pids: expected whole-number ids, got 7.9"):
        evaluate_ranking(dist, [7.0], [7.9, 3.0], [0], [1, 1])
    with pytest.raises(ValueError, match=r"q_pids: expected integer ids, got <U1 values"):
        evaluate_ranking(dist, ["a"], [1, 2], [0], [1, 1])
    cmc, mAP = evaluate_ranking(dist, [7.0], [7.0, 3.0], [0], [1, 1])    # whole floats are ids
    assert cmc[0] == 1.0 and mAP == 1.0


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, "tiny float32"])
def test_low_precision_distances_rank_like_float32(dtype):
    rng = np.random.default_rng(0)
    q_pids, g_pids = rng.integers(0, 10, 30), rng.integers(0, 10, 200)
    dist = torch.as_tensor(rng.random((30, 200)), dtype=torch.float32)
    expected = evaluate_ranking(dist, q_pids, g_pids, np.zeros(30, int), np.ones(200, int))
    low = dist * 1e-37 if dtype == "tiny float32" else dist.to(dtype)
    cmc, mAP = evaluate_ranking(low, q_pids, g_pids, np.zeros(30, int), np.ones(200, int))
    if dtype == "tiny float32":
        np.testing.assert_allclose(cmc, expected[0]) and np.testing.assert_allclose(mAP, expected[1])
    else:             # rounding to 8 or 11 bits ties a few distances: close, not equal
        assert abs(mAP - expected[1]) < 0.05 and np.isfinite(cmc).all()


def probabilities(n: int, classes: int, seed: int) -> np.ndarray:
    logits = np.random.default_rng(seed).normal(size=(n, classes))
    return np.exp(logits) / np.exp(logits).sum(1, keepdims=True)


def test_attribute_predictions_must_be_probabilities():
    with pytest.raises(ValueError, match=r"probs\[0\]: expected class probabilities.*apply softmax to logits first"):
        AttributePredictions.from_probs([np.log(probabilities(5, 2, 0))])
    with pytest.raises(ValueError, match=r"C >= 2"):
        AttributePredictions.from_probs([np.ones((5, 1))])


def test_predictions_must_match_the_distance_matrix():
    q = AttributePredictions.from_probs([probabilities(3, 2, 0)])
    g = AttributePredictions.from_probs([probabilities(39, 2, 1)])
    with pytest.raises(ValueError, match=r"distmat has shape \(3, 40\); expected \(queries, gallery\) = \(3, 39\)"):
        acceleration_curve(np.zeros((3, 40)), q, g, [1, 2, 3], list(range(40)), [0] * 3, [1] * 40, taus=[0.9])


# ---------------------------------------------------------------- 6: statistics

def test_intervals_refuse_a_percentage_level_and_nan():
    a, b = np.array([0.5, 0.6, 0.7]), np.array([0.4, 0.5, np.nan])
    with pytest.raises(ValueError, match=r"level=95: expected a probability between 0 and 1 \(0.95, not 95\)"):
        run_interval(a, a, level=95)
    with pytest.raises(ValueError, match="b: holds NaN or infinite values"):
        run_interval(a, b)
    with pytest.raises(ValueError, match="must be finite numbers"):
        verdict_agreement(np.array([0.1, np.nan, 0.2]), seeds=2)
    with pytest.raises(ValueError, match="level=95"):
        seed_query_interval(np.ones((2, 5)), level=95)


# ---------------------------------------------------------------- 8: CUB's file lists

def write_cub(root: Path, images: list[str], split: list[int]) -> Path:
    folder = root / "CUB_200_2011"
    (folder / "attributes").mkdir(parents=True)
    for line in images:
        write_jpeg(folder / "images" / line.split()[1], size=(32, 32))
    (folder / "images.txt").write_text("\n".join(images) + "\n")
    (folder / "image_class_labels.txt").write_text("".join(f"{i + 1} 1\n" for i in range(len(images))))
    (folder / "train_test_split.txt").write_text("".join(f"{i + 1} {t}\n" for i, t in enumerate(split)))
    (folder / "attributes" / "image_attribute_labels.txt").write_text("")
    (folder / "attributes.txt").write_text("1 has_bill_shape::curved\n")
    return folder


@pytest.mark.parametrize("listed, message", [
    ("2 ../../outside.jpg", "leads outside"),
    ("2 {root}/abs.jpg", "leads outside"),
    ("2 001.Bird/a.jpg", r"image '001.Bird/a.jpg' is already listed on line 1; each image may appear once"),
    ("2 001.Bird/./a.jpg", "is already listed on line 1"),
])
def test_cub_image_lists_stay_inside_the_root_and_list_each_image_once(tmp_path, listed, message):
    from apr.data.cub import read_cub

    folder = write_cub(tmp_path / "data", ["1 001.Bird/a.jpg"], [1])
    write_jpeg(tmp_path / "outside.jpg", size=(32, 32))
    write_jpeg(tmp_path / "abs.jpg", size=(32, 32))
    with open(folder / "images.txt", "a") as handle:
        handle.write(listed.format(root=tmp_path) + "\n")
    (folder / "image_class_labels.txt").write_text("1 1\n2 1\n")
    (folder / "train_test_split.txt").write_text("1 1\n2 0\n")
    with pytest.raises(ValueError, match=rf"images.txt' line 2: .*{message}"):
        read_cub(tmp_path / "data")


# ---------------------------------------------------------------- 9, 11: what the status page shows

def test_status_cells_show_markup_and_bars_as_text():
    from apr.book.status import cell

    shown = cell("/data/a|b/<img src=x onerror=alert(1)>/`x`*y*")
    assert "|" not in shown and "<" not in shown and ">" not in shown
    assert shown == r"/data/a&#124;b/&lt;img src=x onerror=alert\(1\)&gt;/\`x\`\*y\*"


# ---------------------------------------------------------------- 12: compressed bombs

def test_a_mat_that_unpacks_to_too_much_is_refused_before_unpacking(tmp_path):
    path = tmp_path / "market_attribute.mat"
    scipy.io.savemat(str(path), {"market_attribute": {"train": {"age": np.zeros((1, 80 << 20), np.uint8)}}},
                     do_compression=True)
    assert path.stat().st_size < 1 << 20
    with pytest.raises(ValueError, match=rf"'{path}' unpacks to more than"):
        load_attribute_annotations(path)


# ---------------------------------------------------------------- 13: a server that never finishes

class _Trickle(http.server.BaseHTTPRequestHandler):
    """Promises a megabyte and sends a byte at a time until the client hangs up."""

    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Length", str(1 << 20))
        self.end_headers()
        try:
            while not self.server.stop.is_set():
                self.wfile.write(b"x")
                self.wfile.flush()
                self.server.stop.wait(0.05)
        except OSError:
            pass

    def log_message(self, *args):
        pass


def test_a_download_has_a_total_deadline(tmp_path):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Trickle)
    server.stop = threading.Event()
    threading.Thread(target=server.serve_forever, daemon=True).start()
    remote = RemoteFile(f"http://127.0.0.1:{server.server_port}/f.mat", "market1501/market_attribute.mat", "0" * 64)
    outcome = []
    worker = threading.Thread(target=lambda: outcome.append(_fails(fetch, remote, tmp_path / "root", timeout=5,
                                                                  deadline_s=1.0)))
    worker.start()
    worker.join(timeout=120)            # only a bound for a broken fetch: the deadline ends it in about a second
    server.stop.set()
    server.shutdown()
    server.server_close()
    assert outcome and "did not finish within its total deadline" in outcome[0]
    assert not (tmp_path / "root").exists()


def test_a_download_needs_positive_time_limits(tmp_path):
    remote = RemoteFile("http://127.0.0.1:9/x", "m/x.mat", "0" * 64)
    with pytest.raises(ValueError, match=r"deadline_s=0: expected seconds above 0"):
        fetch(remote, tmp_path, deadline_s=0)


def _fails(function, *args, **kwargs) -> str:
    try:
        function(*args, **kwargs)
    except OSError as exc:
        return str(exc)
    return "no error"


# ---------------------------------------------------------------- 14: distractor results

@pytest.mark.parametrize("content", ["truncated", "pickled", "not a zip"])
def test_damaged_distractor_results_are_named_and_computed_again(tmp_path, content):
    from apr.experiments.distractors import OUTCOMES, SECONDS, _cache_path, _load_cached

    run = SimpleNamespace(run_dir=tmp_path, info={"key": "k"})
    path = _cache_path(run, "abc")
    arrays = {name: np.zeros(3) for name in OUTCOMES + SECONDS}
    if content == "truncated":
        np.savez(path, key=np.array("k"), **arrays)
        path.write_bytes(path.read_bytes()[:-200])
    elif content == "pickled":
        np.savez(path, key=np.array("k"), **arrays | {OUTCOMES[0]: np.array([{"a": 1}], dtype=object)})
    else:
        path.write_bytes(pickle.dumps({"key": "k"}))
    with pytest.warns(UserWarning, match=rf"'{path}' is damaged .*computing its distractor results again"):
        assert _load_cached(run, "abc") is None
    assert zipfile  # the module reads .npz files as zip archives


# ---------------------------------------------------------------- 18: an interrupted chapter leaves nothing

@pytest.mark.slow
def test_an_interrupted_chapter_leaves_no_temporary_files(tmp_path):
    """SIGTERM to a build running a chapter that blocks on a FIFO: the build's temporary folder is gone after."""
    started = PausePoint(tmp_path / "started")
    fifo = started.path
    chapter = tmp_path / "wait.py"
    chapter.write_text(f"# %% tags=['parameters']\nparameters = {{}}\n# %%\nopen({str(fifo)!r}, 'w').write('x')\n"
                       "import threading\nthreading.Event().wait()\n")   # blocks until killed
    # Short: a kernel's socket path must fit 107 bytes, and pytest's own folders are long.
    temporary = Path(tempfile.mkdtemp(prefix="apr-t-", dir="/tmp"))
    driver = ("import sys\nfrom pathlib import Path\nfrom apr.book.build import run_chapters\n"
              "from apr.experiments import BookParameters\n"
              "run_chapters([Path(sys.argv[1])], Path(sys.argv[2]), BookParameters(scale='smoke'))\n")
    proc = subprocess.Popen([sys.executable, "-c", driver, str(chapter), str(tmp_path / "out")],
                            env=ENV | {"TMPDIR": str(temporary)}, stderr=subprocess.PIPE, text=True)
    started.wait(proc, lambda: proc.stderr.read())          # until the chapter's kernel runs its cell
    started.close()
    assert any(temporary.iterdir())
    proc.terminate()
    proc.communicate(timeout=120)
    left = list(temporary.iterdir())
    shutil.rmtree(temporary)
    assert proc.returncode != 0 and left == []


def test_temporaries_of_another_host_are_kept_until_old(tmp_path, monkeypatch):
    from apr.data.files import FOREIGN_TEMPORARY_SECONDS, remove_dead_temporaries

    monkeypatch.setenv(HOST_ENV, "node-a")
    fresh, old = tmp_path / ".model.pt.node-b@1.abc.tmp", tmp_path / ".model.pt.node-b@2.abc.tmp"
    mine_dead = tmp_path / f".model.pt.node-a@{2**22 + 9}.abc.tmp"
    for path in (fresh, old, mine_dead):
        path.write_bytes(b"")
    stale = time.time() - FOREIGN_TEMPORARY_SECONDS - 60
    os.utime(old, (stale, stale))
    assert sorted(remove_dead_temporaries(tmp_path)) == sorted([old, mine_dead]) and fresh.exists()
