"""A trained run as an ONNX model: normalised images in, the run's test feature, pool5 and each attribute's class
probabilities out, with a batch dimension of any size.

    python -m apr export RUN --onnx model.onnx

Inputs and outputs (names as in the ONNX graph): ``images`` (B, 3, H, W) float32, ImageNet-normalised at the run's
input size (:func:`apr.data.tensors.normalize`); ``features`` (B, D); ``pool5`` (B, F); ``attr_<name>`` (B, C) per
attribute (none for IDE). Needs the optional extra ``apr[onnx]`` (onnx, onnxscript; onnxruntime to check it).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from pathlib import Path

import torch
from torch import nn

from ..model import APR
from .runs import attribute_names, changed_data, load_model, load_run


class _Exported(nn.Module):
    """The model's inference outputs as a flat tuple (what ONNX graphs return)."""

    def __init__(self, model: APR, feature: str) -> None:
        super().__init__()
        self.model, self.feature = model, feature

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, ...]:
        out = self.model(images)
        probs = tuple(logit.softmax(1) for logit in out.attr_logits) if out.attr_logits is not None else ()
        return (out.test_feature(self.feature), out.pool5, *probs)


@contextlib.contextmanager
def _quiet_exporter() -> Iterator[None]:
    """The ONNX libraries log a warning per empty attribute they build (harmless); keep them to errors."""
    loggers = [logging.getLogger(n) for n in ("onnx_ir", "onnxscript", "torch.onnx")]
    levels = [x.level for x in loggers]
    for x in loggers:
        x.setLevel(logging.ERROR)
    try:
        yield
    finally:
        for x, level in zip(loggers, levels):
            x.setLevel(level)


def output_names(attribute_names: list[str]) -> list[str]:
    """The ONNX graph's output names, in order."""
    return ["features", "pool5", *(f"attr_{n}" for n in attribute_names)]


def export_onnx(run_dir: str | Path, path: str | Path, *, opset: int = 18) -> Path:
    """Write the final model of ``run_dir`` as an ONNX file at ``path`` (see the module docstring)."""
    path = Path(path)
    if path.suffix != ".onnx":
        raise ValueError(f"--onnx '{path}': expected a file name ending in .onnx")
    try:
        import onnxscript  # noqa: F401  (torch's exporter needs it; say so in one line rather than deep inside)
    except ImportError:
        raise ImportError("ONNX export needs the optional extra: pip install 'apr[onnx]'") from None
    info = load_run(run_dir)
    changed = changed_data(run_dir, info)
    if changed:
        raise ValueError(f"{changed}: the run no longer matches its data; export a run trained on the file as it is")
    model, config = load_model(run_dir, "cpu")
    names = attribute_names(run_dir, info, model)
    wrapped = _Exported(model.eval(), config.test_feature)
    example = torch.zeros(2, 3, *config.image_size)
    path.parent.mkdir(parents=True, exist_ok=True)
    batch = torch.export.Dim("batch", min=1)
    with _quiet_exporter():
        program = torch.onnx.export(wrapped, (example,), dynamo=True, input_names=["images"],
                                    output_names=output_names(names), dynamic_shapes=({0: batch},),
                                    opset_version=opset, external_data=False, verbose=False)
        program.save(str(path))
    return path
