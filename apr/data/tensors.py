"""Records -> tensors: a torch ``Dataset`` with torchvision transforms, and a fast path.

Two ways to feed a model:

* :class:`ReidImageDataset` + :func:`train_transform` / :func:`eval_transform`: the usual
  per-image JPEG decoding in ``DataLoader`` workers;
* :class:`DecodedSplit`: decode a whole split once (resized to the model's input size) into
  one ``uint8`` tensor of shape (N, 3, H, W), optionally on the GPU, then
  :class:`BatchAugment` flips, pads-and-crops and normalises whole batches on that device.
  Later epochs do no decoding at all. Market's 12,936 training images at 256x128 take
  1.3 GB as uint8.
"""

from __future__ import annotations

import os
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageOps, UnidentifiedImageError
from torchvision.transforms import v2
from tqdm.auto import tqdm

from .datasets import Record

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def openable_suffixes() -> frozenset[str]:
    """The file name endings of every format PIL can open here (``.jpg``, ``.png``, ``.webp``, ``.tif``, ...)."""
    Image.init()
    return frozenset(ext for ext, fmt in Image.registered_extensions().items() if fmt in Image.OPEN)


def _eight_bit(img: Image.Image) -> Image.Image:
    """16-bit, 32-bit integer and float images as 8 bits, scaled as a viewer shows them (PIL's own conversion
    clips them at 255: a 16-bit PNG turns white). Integer images use their full 16-bit range (values above 65,535
    are clipped); float images are taken as 0..1 when they stay within it, else as 0..255."""
    if img.mode.startswith("I;16") or img.mode == "I":
        values = np.asarray(img).astype(np.float64).clip(0, 65535) / 257.0
    elif img.mode == "F":
        values = np.asarray(img, dtype=np.float64)
        values = np.nan_to_num(values) * (255.0 if values.size and np.nanmax(values) <= 1.0 else 1.0)
    else:
        return img
    return Image.fromarray(np.rint(values.clip(0, 255)).astype(np.uint8), mode="L")


def rgb_array(img: Image.Image, size: tuple[int, int] | None = None) -> np.ndarray:
    """An image as RGB uint8 (H, W, 3), as an image viewer shows it, resized to ``size`` = (H, W) with PIL's
    bilinear filter if given: the decoding every split and :class:`apr.engine.extractor.Extractor` share.

    The EXIF orientation is applied (a phone photo stored sideways is read upright); 16-bit and float images are
    scaled to 8 bits (:func:`_eight_bit`); palette, CMYK, grey and alpha images go through PIL's conversion to RGB
    (alpha is dropped, the colours under it kept)."""
    img = _eight_bit(ImageOps.exif_transpose(img))
    if img.mode in ("P", "PA"):          # through RGBA: a palette's transparency would otherwise warn
        img = img.convert("RGBA")
    img = img.convert("RGB")
    if size is not None and img.size != (size[1], size[0]):
        img = img.resize((size[1], size[0]), Image.Resampling.BILINEAR)
    return np.asarray(img, dtype=np.uint8).copy()


def read_image(path: str, size: tuple[int, int] | None = None) -> np.ndarray:
    """Decode an image file to RGB uint8 (H, W, 3) as :func:`rgb_array` does, resized to ``size`` = (H, W) if given.

    Raises ``ValueError`` naming the file when it is missing, truncated, not an image, or larger than PIL's pixel
    limit (``PIL.Image.MAX_IMAGE_PIXELS``, a guard against decompression bombs).
    """
    try:
        with Image.open(path) as img:
            return rgb_array(img, size)
    except FileNotFoundError:
        raise FileNotFoundError(f"image file not found: '{path}'") from None
    except Image.DecompressionBombError as exc:
        raise ValueError(f"image '{path}' is larger than the pixel limit: {exc}") from None
    except (UnidentifiedImageError, OSError, SyntaxError) as exc:
        raise ValueError(f"corrupt or unreadable image '{path}': {exc}") from exc


def label_map(records: Sequence[Record]) -> dict[int, int]:
    """Person id -> contiguous class index 0..K-1 (sorted ids), for the ID classifier."""
    return {pid: i for i, pid in enumerate(sorted({r.pid for r in records}))}


def train_transform(size: tuple[int, int] = (256, 128), pad: int = 10, flip: float = 0.5) -> v2.Compose:
    """Resize, pad-and-random-crop, horizontal flip, ImageNet normalisation (paper §5.2)."""
    return v2.Compose([
        v2.ToImage(), v2.Resize(size, antialias=True), v2.Pad(pad), v2.RandomCrop(size),
        v2.RandomHorizontalFlip(flip), v2.ToDtype(torch.float32, scale=True), v2.Normalize(IMAGENET_MEAN, IMAGENET_STD),
    ])


def eval_transform(size: tuple[int, int] = (256, 128)) -> v2.Compose:
    """Resize and ImageNet normalisation."""
    return v2.Compose([
        v2.ToImage(), v2.Resize(size, antialias=True), v2.ToDtype(torch.float32, scale=True),
        v2.Normalize(IMAGENET_MEAN, IMAGENET_STD),
    ])


class ReidImageDataset(torch.utils.data.Dataset):
    """Records (and their image-level attributes) as a torch ``Dataset``.

    Each item is a dict: ``image`` (3, H, W) float, ``pid``, ``label`` (contiguous class
    index, -1 for ids outside ``labels``), ``camid``, ``attrs`` (A,) int64 (-1 =
    unlabelled) and ``index`` (position in ``records``).
    """

    def __init__(self, records: Sequence[Record], attributes: np.ndarray | None = None,
                 transform: v2.Compose | None = None, labels: dict[int, int] | None = None) -> None:
        if attributes is not None and len(attributes) != len(records):
            raise ValueError(f"attributes has {len(attributes)} rows for {len(records)} records")
        self.records = list(records)
        self.attributes = np.zeros((len(records), 0), np.int8) if attributes is None else attributes
        self.transform = transform or eval_transform()
        self.labels = labels if labels is not None else label_map(self.records)

    def __len__(self) -> int:
        return len(self.records)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor | int]:
        record = self.records[index]
        image = self.transform(Image.fromarray(read_image(record.path)))
        return {
            "image": image, "pid": record.pid, "label": self.labels.get(record.pid, -1), "camid": record.camid,
            "attrs": torch.as_tensor(self.attributes[index], dtype=torch.int64), "index": index,
        }


# Decoded splits kept by this process: a worker of the results pool trains and evaluates many models on the
# same images, and decoding them again cost each quick model ~3 s (its run.json timings). Keyed on each
# file's path, modification time and size, so a changed file is decoded again.
_DECODED: OrderedDict[tuple, torch.Tensor] = OrderedDict()
DECODED_CACHE_BYTES = 1 << 30        # at most this many bytes of uint8 images kept (larger splits are not kept)


def _decoded_images(records: Sequence[Record], size: tuple[int, int], workers: int, progress: bool) -> torch.Tensor:
    """(N, 3, H, W) uint8 images of ``records`` resized to ``size``: decoded (threads), or a copy of this
    process's earlier decoding of the same unchanged files."""
    try:
        key = (tuple(size), tuple((r.path, *_stamp(r.path)) for r in records))
    except FileNotFoundError:
        key = None             # read_image below names the missing file
    if key is not None and key in _DECODED:
        _DECODED.move_to_end(key)
        return _DECODED[key].clone()
    out = torch.empty((len(records), 3, size[0], size[1]), dtype=torch.uint8)
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        decoded = pool.map(lambda r: read_image(r.path, size), records)
        for i, img in enumerate(tqdm(decoded, total=len(records), desc="decoding images", unit="img",
                                     disable=not progress)):
            out[i] = torch.from_numpy(img).permute(2, 0, 1)
    if key is not None and out.numel() <= DECODED_CACHE_BYTES:
        _DECODED[key] = out.clone()
        while sum(t.numel() for t in _DECODED.values()) > DECODED_CACHE_BYTES:
            _DECODED.popitem(last=False)
    return out


def _stamp(path: str) -> tuple[int, int]:
    info = os.stat(path)
    return info.st_mtime_ns, info.st_size


@dataclass
class DecodedSplit:
    """A whole split decoded once: ``images`` uint8 (N, 3, H, W) plus per-image labels."""

    images: torch.Tensor
    pids: torch.Tensor
    labels: torch.Tensor
    camids: torch.Tensor
    attrs: torch.Tensor

    @classmethod
    def decode(cls, records: Sequence[Record], size: tuple[int, int], attributes: np.ndarray | None = None,
               labels: dict[int, int] | None = None, device: str | torch.device = "cpu",
               workers: int = 2, progress: bool = True) -> DecodedSplit:
        """Decode and resize every image of ``records`` (threads), then move to ``device``."""
        if attributes is not None and len(attributes) != len(records):
            raise ValueError(f"attributes has {len(attributes)} rows for {len(records)} records")
        out = _decoded_images(records, size, workers, progress)
        labels = labels if labels is not None else label_map(records)
        attrs = np.zeros((len(records), 0), np.int8) if attributes is None else attributes
        device = torch.device(device)
        return cls(
            images=out.to(device),
            pids=torch.tensor([r.pid for r in records], device=device),
            labels=torch.tensor([labels.get(r.pid, -1) for r in records], device=device),
            camids=torch.tensor([r.camid for r in records], device=device),
            attrs=torch.as_tensor(attrs, dtype=torch.int64).to(device),
        )

    def __len__(self) -> int:
        return self.images.shape[0]

    def batches(self, batch_size: int, *, shuffle: bool = False, generator: torch.Generator | None = None,
                augment: BatchAugment | None = None, drop_last: bool = False,
                indices: torch.Tensor | None = None) -> Iterator[dict[str, torch.Tensor]]:
        """Yield batches as dicts like :class:`ReidImageDataset` items, already on the device.

        Without ``augment`` images are only normalised. The permutation is drawn on the CPU
        from ``generator`` so runs are reproducible on any device. ``indices`` gives the
        order explicitly (e.g. one process's shard); ``shuffle`` is then ignored.
        """
        if indices is not None:
            order = indices
        else:
            order = torch.randperm(len(self), generator=generator) if shuffle else torch.arange(len(self))
        n = order.numel()
        order = order.to(self.images.device)
        stop = n - n % batch_size if drop_last else n
        for start in range(0, stop, batch_size):
            idx = order[start:start + batch_size]
            images = self.images[idx]
            images = augment(images, generator) if augment is not None else normalize(images)
            yield {"image": images, "pid": self.pids[idx], "label": self.labels[idx], "camid": self.camids[idx],
                   "attrs": self.attrs[idx], "index": idx}


def normalize(images: torch.Tensor) -> torch.Tensor:
    """uint8 (B, 3, H, W) -> float, ImageNet-normalised, on the same device."""
    mean = torch.tensor(IMAGENET_MEAN, device=images.device).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD, device=images.device).view(1, 3, 1, 1)
    return (images.float() / 255 - mean) / std


@dataclass(frozen=True)
class BatchAugment:
    """Flip and pad-and-random-crop a uint8 batch on its own device, then normalise.

    Same augmentation as :func:`train_transform` (zero padding of ``pad`` pixels, crop back
    to the input size, flip with probability ``flip``), but for a whole batch at once.
    Random numbers come from a CPU generator so results do not depend on the device.
    """

    pad: int = 10
    flip: float = 0.5

    def __call__(self, images: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        b, _, h, w = images.shape
        x = normalize(images)
        dev = images.device
        flips = (torch.rand(b, generator=generator) < self.flip).to(dev)
        x = torch.where(flips.view(b, 1, 1, 1), x.flip(-1), x)
        if self.pad > 0:
            # Padding happens before normalisation in the per-image path, so pad with the
            # normalised value of a black pixel.
            black = normalize(torch.zeros(1, 3, 1, 1, dtype=torch.uint8, device=dev))
            x = F.pad(x - black, (self.pad,) * 4) + black
            oy = torch.randint(0, 2 * self.pad + 1, (b,), generator=generator).to(dev)
            ox = torch.randint(0, 2 * self.pad + 1, (b,), generator=generator).to(dev)
            rows = (oy[:, None] + torch.arange(h, device=dev))[:, :, None]   # (B, H, 1)
            cols = (ox[:, None] + torch.arange(w, device=dev))[:, None, :]   # (B, 1, W)
            x = x.permute(0, 2, 3, 1)[torch.arange(b, device=dev)[:, None, None], rows, cols]  # (B, H, W, 3)
            x = x.permute(0, 3, 1, 2).contiguous()
        return x
