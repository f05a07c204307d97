"""A trained run as a feature extractor for images the run never saw: files, PIL images or tensors in, re-ID
features and per-attribute probabilities out, with the run's own preprocessing.

    extractor = Extractor.from_run("runs/apr-synthetic", device="cpu")
    out = extractor(["a.jpg", "b.jpg"])        # or PIL images, or a (B, 3, H, W) uint8 tensor
    out.features        # (N, D): the run's test feature (APR: [embedding, re-weighted attributes], 539-d)
    out.pool5           # (N, F): the backbone's pooled feature
    out.attributes      # {attribute name: (N, C) class probabilities}

The preprocessing is the one the run was evaluated with: decode to RGB, resize to the run's input size with PIL's
bilinear filter, ImageNet normalisation (:func:`apr.data.tensors.read_image`, :func:`apr.data.tensors.normalize`).
"""

from __future__ import annotations

import glob
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from tqdm.auto import tqdm

from ..config import APRConfig
from ..data.tensors import normalize, openable_suffixes, read_image, rgb_array
from ..model import APR
from .device import resolve_device
from .features import embed_batch
from .runs import attribute_names, load_model, load_run

ImageInput = str | Path | Image.Image


@dataclass
class Extraction:
    """What :class:`Extractor` returns for N images, on the CPU."""

    features: np.ndarray                 # (N, D) float32: the run's test feature
    pool5: np.ndarray                    # (N, F) float32
    attributes: dict[str, np.ndarray] = field(default_factory=dict)   # name -> (N, C) probabilities (none: IDE)
    sources: list[str] = field(default_factory=list)                  # file paths, where the input was files

    def save(self, path: str | Path) -> Path:
        """Write the extraction as an ``.npz`` of plain arrays (loadable with ``allow_pickle=False``):
        ``features``, ``pool5``, ``attribute_names``, ``attr_<name>`` per attribute and ``sources``."""
        path = Path(path)
        if path.suffix != ".npz":
            raise ValueError(f"--out '{path}': expected a file name ending in .npz")
        arrays = {"features": self.features, "pool5": self.pool5,
                  "attribute_names": np.array(list(self.attributes), dtype=str),
                  "sources": np.array(self.sources, dtype=str)}
        arrays |= {f"attr_{name}": probs for name, probs in self.attributes.items()}
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savez(path, **arrays)
        return path


def image_files(pattern: str | Path, skipped: list[Path] | None = None, *, option: str = "--images") -> list[Path]:
    """The image files of a folder (recursively, sorted) or of a glob pattern: every format PIL opens here
    (:func:`apr.data.tensors.openable_suffixes`). Other files are left out and, when ``skipped`` is a list,
    appended to it, so that a caller can say what it did not read. One error naming ``option`` and ``pattern`` when
    it matches no image."""
    text = str(pattern)
    folder = Path(text).expanduser()
    if folder.is_dir():
        files = sorted(p for p in folder.rglob("*") if p.is_file())
    else:
        files = sorted(Path(p) for p in glob.glob(str(Path(text).expanduser()), recursive=True) if Path(p).is_file())
    suffixes = openable_suffixes()
    found = [p for p in files if p.suffix.lower() in suffixes]
    if skipped is not None:
        skipped.extend(p for p in files if p.suffix.lower() not in suffixes)
    if not found:
        raise FileNotFoundError(f"{option} '{text}': no image files there (none of {len(files)} files ends in a "
                                "format PIL opens, such as .jpg, .png, .webp or .tif); expected a folder of images or "
                                "a glob pattern such as 'crops/*.jpg'")
    return found


class Extractor:
    """A trained model with its preprocessing, batched (see the module docstring)."""

    def __init__(self, model: APR, config: APRConfig, attribute_names: Sequence[str], *,
                 device: str | torch.device = "auto", batch_size: int | None = None) -> None:
        self.device = resolve_device(device)
        self.model = model.to(self.device).eval()
        self.config = config
        self.attribute_names = list(attribute_names)
        self.batch_size = batch_size if batch_size is not None else config.eval_batch_size
        if self.batch_size < 1:
            raise ValueError(f"--batch-size {self.batch_size}: expected at least 1")

    @classmethod
    def from_run(cls, run_dir: str | Path, *, device: str | torch.device = "auto",
                 batch_size: int | None = None) -> Extractor:
        """The final model of a run folder written by ``apr train`` (or the book's cache); its weights are read
        weights-only, its attribute names from ``run.json``."""
        model, config = load_model(run_dir, "cpu")
        return cls(model, config, attribute_names(run_dir, load_run(run_dir), model), device=device,
                   batch_size=batch_size)

    @property
    def size(self) -> tuple[int, int]:
        """The model's input size (H, W)."""
        return tuple(self.config.image_size)

    def _uint8_batch(self, images: Sequence[ImageInput]) -> torch.Tensor:
        arrays = []
        for image in images:
            if isinstance(image, Image.Image):
                arrays.append(rgb_array(image, self.size))
            elif isinstance(image, (str, Path)):
                arrays.append(read_image(str(image), self.size))
            else:
                raise TypeError(f"expected image paths, PIL images or a tensor batch, got a {type(image).__name__}")
        return torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2)

    def _prepare(self, batch: torch.Tensor) -> torch.Tensor:
        """A (B, 3, H, W) tensor as the model's input: uint8 is resized and normalised, float is taken as already
        normalised at the model's size."""
        if batch.ndim != 4 or batch.shape[1] != 3:
            raise ValueError(f"expected a (B, 3, H, W) image batch, got shape {tuple(batch.shape)}")
        if batch.dtype == torch.uint8:
            if tuple(batch.shape[2:]) != self.size:
                batch = F.interpolate(batch.float(), size=self.size, mode="bilinear", antialias=True,
                                      align_corners=False).round().clamp(0, 255).to(torch.uint8)
            return normalize(batch.to(self.device))
        if not batch.is_floating_point():
            raise ValueError(f"expected a uint8 or float image batch, got {batch.dtype}")
        if tuple(batch.shape[2:]) != self.size:
            raise ValueError(f"a float batch must already be normalised at the model's size {self.size}, "
                             f"got {tuple(batch.shape[2:])}")
        return batch.to(self.device, torch.float32)

    @torch.no_grad()
    def _forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, list[torch.Tensor]]:
        feat, pool5, probs = embed_batch(self.model, x, feature=self.config.test_feature, amp=self.config.amp,
                                         channels_last=self.config.channels_last)
        if pool5 is None:                # the test feature is pool5 itself
            pool5 = feat
        return feat, pool5, probs

    def __call__(self, images: torch.Tensor | ImageInput | Iterable[ImageInput], *,
                 progress: bool = False) -> Extraction:
        """Features and attribute probabilities of ``images``: a tensor batch, one image, or a sequence of
        paths or PIL images (decoded batch by batch, so a long list needs no more memory than a batch)."""
        if isinstance(images, torch.Tensor):
            if images.ndim != 4 or images.shape[1] != 3 or len(images) == 0:
                raise ValueError(f"expected a (B, 3, H, W) image batch with B >= 1, got shape {tuple(images.shape)}")
            batches: list = [images[i:i + self.batch_size] for i in range(0, len(images), self.batch_size)]
            sources: list[str] = []
        else:
            items = [images] if isinstance(images, (str, Path, Image.Image)) else list(images)
            if not items:
                raise ValueError("no images given")
            batches = [items[i:i + self.batch_size] for i in range(0, len(items), self.batch_size)]
            sources = [str(x) for x in items] if all(isinstance(x, (str, Path)) for x in items) else []
        feats, pooled, probs = [], [], []
        for batch in tqdm(batches, desc="extract", unit="batch", disable=not progress, leave=False):
            tensor = batch if isinstance(batch, torch.Tensor) else self._uint8_batch(batch)
            f, p, a = self._forward(self._prepare(tensor))
            feats.append(f)
            pooled.append(p)
            probs.append(a)
        attributes = {name: torch.cat([b[j] for b in probs]).numpy() for j, name in enumerate(self.attribute_names)
                      if probs and probs[0]}
        return Extraction(torch.cat(feats).numpy(), torch.cat(pooled).numpy(), attributes, sources)
