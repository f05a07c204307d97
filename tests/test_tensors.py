"""Torch dataset, transforms, and the decode-once fast path."""

from __future__ import annotations

import pytest
import torch

from apr.data.datasets import read_market1501
from apr.data.tensors import BatchAugment, DecodedSplit, ReidImageDataset, eval_transform, label_map, normalize


def test_dataset_items(tiny_synthetic):
    data = read_market1501(tiny_synthetic)
    ds = ReidImageDataset(data.train, data.attributes["train"], eval_transform((64, 32)))
    item = ds[3]
    assert item["image"].shape == (3, 64, 32) and item["image"].dtype == torch.float32
    assert item["attrs"].shape == (27,)
    assert item["label"] == label_map(data.train)[data.train[3].pid]
    batch = next(iter(torch.utils.data.DataLoader(ds, batch_size=4)))
    assert batch["image"].shape == (4, 3, 64, 32)


@pytest.mark.numerics
def test_decoded_split_matches_per_image_path(tiny_synthetic):
    data = read_market1501(tiny_synthetic)
    split = DecodedSplit.decode(data.query, (128, 64), data.attributes["query"], progress=False)
    assert split.images.dtype == torch.uint8 and split.images.shape == (len(data.query), 3, 128, 64)
    ds = ReidImageDataset(data.query, data.attributes["query"], eval_transform((128, 64)))
    batch = next(split.batches(len(data.query)))
    # Native size: no resizing, so both paths give the same tensor.
    torch.testing.assert_close(batch["image"][2], ds[2]["image"], atol=1e-5, rtol=0)
    assert torch.equal(batch["attrs"][2], ds[2]["attrs"])


def test_batches_cover_each_image_once():
    images = torch.arange(10, dtype=torch.uint8).view(10, 1, 1, 1).expand(10, 3, 4, 2).contiguous()
    split = DecodedSplit(images, torch.arange(10), torch.arange(10), torch.ones(10), torch.zeros(10, 0))
    seen = torch.cat([b["index"] for b in split.batches(3, shuffle=True, generator=torch.Generator().manual_seed(0))])
    assert sorted(seen.tolist()) == list(range(10))
    assert sum(1 for _ in split.batches(3, drop_last=True)) == 3


@pytest.mark.numerics
def test_batch_augment_identity_flip_and_crop():
    g = torch.Generator().manual_seed(0)
    x = torch.randint(0, 256, (5, 3, 8, 6), dtype=torch.uint8, generator=g)
    torch.testing.assert_close(BatchAugment(pad=0, flip=0.0)(x, g), normalize(x))
    torch.testing.assert_close(BatchAugment(pad=0, flip=1.0)(x, g), normalize(x).flip(-1))
    # With padding, every output is a shifted window of the zero-padded image.
    out = BatchAugment(pad=2, flip=0.0)(x, torch.Generator().manual_seed(1))
    black = normalize(torch.zeros(1, 3, 1, 1, dtype=torch.uint8))
    padded = torch.nn.functional.pad(normalize(x) - black, (2, 2, 2, 2)) + black
    for b in range(5):
        windows = [padded[b, :, dy:dy + 8, dx:dx + 6] for dy in range(5) for dx in range(5)]
        assert any(torch.allclose(out[b], w) for w in windows)


def test_a_split_decoded_again_comes_from_the_process_cache_until_a_file_changes(tmp_path, monkeypatch):
    import os

    import numpy as np
    from PIL import Image

    from apr.data import tensors
    from apr.data.datasets import Record

    monkeypatch.setattr(tensors, "_DECODED", type(tensors._DECODED)())
    paths = []
    for i in range(3):
        paths.append(tmp_path / f"000{i}_c1s1_000001_00.jpg")
        Image.fromarray(np.full((16, 8, 3), 40 * i, np.uint8)).save(paths[-1])
    records = [Record(str(p), i + 1, 1, "query") for i, p in enumerate(paths)]
    reads = []
    real_read = tensors.read_image
    monkeypatch.setattr(tensors, "read_image", lambda path, size=None: reads.append(path) or real_read(path, size))
    first = DecodedSplit.decode(records, (16, 8), progress=False)
    again = DecodedSplit.decode(records, (16, 8), progress=False)
    assert len(reads) == 3 and torch.equal(first.images, again.images)
    again.images.zero_()                                   # a caller's copy: the cache keeps its own
    assert torch.equal(DecodedSplit.decode(records, (16, 8), progress=False).images, first.images) and len(reads) == 3
    Image.fromarray(np.full((16, 8, 3), 250, np.uint8)).save(paths[1])
    stamp = os.stat(paths[1]).st_mtime_ns + 10**9
    os.utime(paths[1], ns=(stamp, stamp))
    changed = DecodedSplit.decode(records, (16, 8), progress=False)
    assert len(reads) == 6 and int(changed.images[1].float().mean()) >= 240
    DecodedSplit.decode(records, (8, 4), progress=False)   # another size is another entry
    assert len(reads) == 9
