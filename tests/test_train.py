"""Training: resume after kill -9 gives the same weights; two gloo processes train; the CLI."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from apr.config import from_params
from apr.engine.runs import load_run

from . import pausing
from .conftest import PausePoint

# A few seconds per epoch on one CPU thread.
ARGS = ["--scale", "smoke", "--device", "cpu", "--quiet", "--set", "epochs=3", "lr_decay_epoch=2"]
ENV = os.environ | {"OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore"}


def apr_cli(*args: str, env: dict[str, str] | None = None, **kwargs) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "apr", *args], env=env or ENV, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, **kwargs)


def finish(proc: subprocess.Popen, timeout: float = 600) -> str:
    out, _ = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, out
    return out


def weights(run_dir: Path) -> dict[str, torch.Tensor]:
    return torch.load(run_dir / "model.pt", map_location="cpu", weights_only=False)["model"]


def straight_and_resumed(tmp_path: Path, args: list[str]) -> tuple[Path, Path]:
    """Two run folders of one configuration: trained straight through, and killed mid-epoch 2 then resumed."""
    finish(apr_cli("train", *args, "--out", str(tmp_path / "straight"), "--no-eval"))
    # The trainer stops at step 1 of epoch 2 and says so in a file: killed there on any machine,
    # however fast or slow (no sleeps).
    waiting = PausePoint(tmp_path / "waiting")
    proc = apr_cli("train", *args, "--out", str(tmp_path / "killed"), "--no-eval",
                   env=ENV | pausing.environment(f"2:1:{waiting.path}"))
    checkpoint = tmp_path / "killed" / "checkpoint.pt"
    waiting.wait(proc, lambda: proc.stdout.read())
    waiting.close()
    proc.send_signal(signal.SIGKILL)
    proc.communicate()                         # reap it and close its pipe
    state = torch.load(checkpoint, map_location="cpu", weights_only=False)
    assert state["epoch"] == 0                 # epoch 1 saved, epoch 2 cut off in its middle
    assert not (tmp_path / "killed" / "model.pt").exists()
    finish(apr_cli("train", *args, "--out", str(tmp_path / "killed"), "--no-eval", "--resume"))
    return tmp_path / "straight", tmp_path / "killed"


@pytest.mark.numerics
@pytest.mark.slow
def test_resume_after_kill_gives_the_same_weights(tmp_path):
    straight, killed = straight_and_resumed(tmp_path, ARGS)
    with pytest.raises(FileExistsError, match="already holds a run"):
        from apr.engine.train import fit
        fit(from_params("smoke", device="cpu", epochs=3, lr_decay_epoch=2), killed, progress=False)
    with pytest.raises(ValueError, match="trained with another configuration"):
        fit(from_params("smoke", device="cpu", epochs=4, lr_decay_epoch=2), killed, resume=True, progress=False)
    a, b = weights(straight), weights(killed)
    assert a.keys() == b.keys()
    for name in a:
        assert torch.equal(a[name], b[name]), name
    assert [h["loss"] for h in load_run(straight)["history"]] == [h["loss"] for h in load_run(killed)["history"]]


@pytest.mark.slow
def test_two_gloo_processes_train(tmp_path):
    torchrun = Path(sys.executable).with_name("torchrun")
    proc = subprocess.run([str(torchrun), "--standalone", "--nproc_per_node", "2", "-m", "apr", "train", *ARGS,
                           "--out", str(tmp_path / "ddp"), "--no-eval"], env=ENV, capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    info = load_run(tmp_path / "ddp")
    assert info["world_size"] == 2
    assert info["batch"] == {"global": 16, "per_process": 8, "processes": 2}    # the smoke preset's batch of 16
    losses = [h["loss"] for h in info["history"]]
    assert len(losses) == 3 and all(torch.isfinite(torch.tensor(losses)))
    # both processes stepped: the final weights moved away from the (seeded) initial ones
    from apr.config import config_from_dict
    from apr.engine.train import build_model

    config = config_from_dict(info["config"])
    from apr.data import MARKET_SCHEMA

    init = build_model(config, info["num_ids"], [a.num_classes for a in MARKET_SCHEMA.attributes]).state_dict()
    final = weights(tmp_path / "ddp")
    assert any(not torch.equal(init[k], final[k]) for k in final if k.endswith("weight"))


def test_the_global_batch_is_split_over_processes():
    from apr.engine.train import process_batch
    config = from_params("smoke", batch_size=32)
    assert process_batch(config, 1) == {"global": 32, "per_process": 32, "processes": 1}
    assert process_batch(config, 4) == {"global": 32, "per_process": 8, "processes": 4}
    assert process_batch(from_params("smoke", batch_size=32, ddp_batch="per_process"), 4) == \
        {"global": 128, "per_process": 32, "processes": 4}
    with pytest.raises(ValueError, match="batch_size=32 is the global batch and does not split into 3"):
        process_batch(config, 3)
    with pytest.raises(ValueError, match="ddp_batch='both'"):
        from_params("smoke", ddp_batch="both")


@pytest.mark.slow
def test_cli_train_and_extract(tmp_path):
    out = finish(apr_cli("train", *ARGS, "--variant", "apr", "--out", str(tmp_path / "run")))
    assert "rank-1" in out and "attribute accuracy" in out
    info = load_run(tmp_path / "run")
    assert {"config", "provenance", "timings", "history", "metrics"} <= set(info)
    assert info["provenance"]["device"] == "cpu" and info["config"]["variant"] == "apr"
    assert {"load_s", "train_s", "extract_query_s", "evaluate_s"} <= set(info["timings"])
    assert 0.0 <= info["metrics"]["mAP"] <= 1.0
    features = torch.load(tmp_path / "run" / "features.pt", weights_only=False)
    assert features["query"]["features"].shape[1] == 512 + 27
    assert len(features["gallery"]["attr_probs"]) == 27
    again = finish(apr_cli("extract", str(tmp_path / "run"), "--device", "cpu", "--quiet"))
    assert "rank-1" in again
    assert load_run(tmp_path / "run")["metrics"]["rank1"] == info["metrics"]["rank1"]   # same model, same answer


def test_cli_rejects_bad_settings(tmp_path):
    bad = subprocess.run([sys.executable, "-m", "apr", "train", "--scale", "smoke", "--set", "lambda_id=2", "--out",
                          str(tmp_path / "x")], env=ENV, capture_output=True, text=True)
    assert bad.returncode == 1 and "lambda_id=2.0: must be in [0, 1]" in bad.stderr and "Traceback" not in bad.stderr
    bad = subprocess.run([sys.executable, "-m", "apr", "train", "--scale", "smoke", "--set", "attributes=wings",
                          "--out", str(tmp_path / "y"), "--device", "cpu", "--quiet"], env=ENV, capture_output=True,
                         text=True)
    assert bad.returncode == 1 and "unknown attribute(s) ['wings']" in bad.stderr
    bad = subprocess.run([sys.executable, "-m", "apr", "extract", str(tmp_path)], env=ENV, capture_output=True,
                         text=True)
    assert bad.returncode == 1 and "is not a run folder" in bad.stderr


@pytest.mark.slow
def test_standard_dataloader_path_trains(tmp_path):
    finish(apr_cli("train", "--scale", "smoke", "--device", "cpu", "--quiet", "--no-eval", "--out",
                   str(tmp_path / "loader"),
                   "--set", "epochs=1", "data_path=loader", "loader_workers=0"))
    info = load_run(tmp_path / "loader")
    assert info["config"]["data_path"] == "loader" and "decode_train_s" not in info["timings"]
    assert info["history"][0]["images"] > 0


def test_head_lr_factor_reaches_the_optimizer(tmp_path):
    finish(apr_cli("train", *ARGS, "--out", str(tmp_path / "run"), "--no-eval", "--set", "head_lr_factor=3"))
    state = torch.load(tmp_path / "run" / "checkpoint.pt", map_location="cpu", weights_only=False)
    backbone, heads = (group["lr"] for group in state["optimizer"]["param_groups"])
    assert backbone in (pytest.approx(from_params("smoke").lr), pytest.approx(from_params("smoke").lr * 0.1))
    assert heads == pytest.approx(3 * backbone)
