"""Torch dataset, transforms, and the decode-once fast path."""

from __future__ import annotations

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
