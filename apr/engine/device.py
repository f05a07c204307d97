"""Which torch device a run uses: ``resolve_device("auto")`` and friends."""

from __future__ import annotations

import os

import torch

from ..config import DEVICE_CHOICES

# The device of the job slot this process serves (set by apr.experiments.jobs.ProcessExecutor): an "auto" or
# "cuda" run in it trains there, so that a build uses every GPU of a machine.
SLOT_DEVICE_ENV = "APR_SLOT_DEVICE"


def resolve_device(name: str | torch.device, local_rank: int = 0) -> torch.device:
    """``auto`` -> the local CUDA device if there is one, else the CPU; one clear error otherwise. In a job slot
    bound to a GPU (``$APR_SLOT_DEVICE``), ``auto`` and ``cuda`` mean that GPU."""
    if isinstance(name, torch.device):
        return name
    slot = os.environ.get(SLOT_DEVICE_ENV)
    if slot and name in ("auto", "cuda") and torch.cuda.is_available():
        return torch.device(slot)
    if name == "auto":
        return torch.device(f"cuda:{local_rank}") if torch.cuda.is_available() else torch.device("cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise ValueError(f"device={name!r}: expected {DEVICE_CHOICES}") from None
    if device.type not in ("cpu", "cuda"):
        raise ValueError(f"device={name!r}: expected {DEVICE_CHOICES}")
    if device.type == "cuda" and not torch.cuda.is_available():
        raise RuntimeError(f"device={name!r} but CUDA is not available on this machine; use device=cpu or auto")
    return device
