"""Query/gallery images -> re-ID features and attribute probabilities (batched, no grad)."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ..data.tensors import DecodedSplit
from ..model import APR


@dataclass
class Embeddings:
    """Features and attribute probabilities of one split, on the CPU."""

    features: torch.Tensor            # (N, D) float32
    attr_probs: list[torch.Tensor]    # m tensors (N, C_j); empty for IDE
    pids: torch.Tensor                # (N,)
    camids: torch.Tensor              # (N,)
    pool5: torch.Tensor | None = None   # (N, F): the backbone's pooled feature, when ``features`` is another one

    def to_dict(self) -> dict:
        """The embeddings as the dictionary a features file holds (``pool5`` only when it was kept)."""
        out = {"features": self.features, "attr_probs": self.attr_probs, "pids": self.pids, "camids": self.camids}
        return out | ({"pool5": self.pool5} if self.pool5 is not None else {})

    @classmethod
    def empty(cls) -> Embeddings:
        """A split without images (CUB-200-2011, an attribute-only dataset, has no queries)."""
        return cls(torch.zeros((0, 0)), [], torch.zeros(0, dtype=torch.int64), torch.zeros(0, dtype=torch.int64))


@torch.no_grad()
def embed_batch(model: APR, x: torch.Tensor, *, feature: str = "concat", amp: bool = True,
                channels_last: bool = True) -> tuple[torch.Tensor, torch.Tensor | None, list[torch.Tensor]]:
    """One normalised batch through ``model`` (in the mode it is in): its test feature, its pool5 when the test
    feature is another one (else None), and each attribute's class probabilities (none for IDE), on the CPU in
    float32. On CUDA, bf16 autocast and channels-last are used when asked."""
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    with torch.autocast("cuda", dtype=torch.bfloat16, enabled=x.device.type == "cuda" and amp):
        out = model(x)
    feat = out.test_feature(feature)
    pool5 = None if feat is out.pool5 else out.pool5.float().cpu()
    probs = [logit.float().softmax(1).cpu() for logit in out.attr_logits] if out.attr_logits is not None else []
    return feat.float().cpu(), pool5, probs


@torch.no_grad()
def extract(model: APR, split: DecodedSplit, *, feature: str = "concat", batch_size: int = 256,
            amp: bool = True, channels_last: bool = True) -> Embeddings:
    """Run ``model`` (eval mode) over a decoded split.

    ``feature`` is ``"concat"`` ([embedding, re-weighted attributes], the paper's test
    feature) or ``"pool5"``; a model whose test feature is not pool5 gives its pool5 too (``Embeddings.pool5``),
    so that a run can be evaluated both ways. On CUDA, bf16 autocast and channels-last are used when asked.
    """
    was_training = model.training
    model.eval()
    feats, pooled, probs = [], [], None
    for batch in split.batches(batch_size):
        feat, pool5, batch_probs = embed_batch(model, batch["image"], feature=feature, amp=amp,
                                               channels_last=channels_last)
        feats.append(feat)
        if pool5 is not None:
            pooled.append(pool5)
        if batch_probs:
            probs = [[p] for p in batch_probs] if probs is None else [acc + [p] for acc, p in zip(probs, batch_probs)]
    model.train(was_training)
    return Embeddings(
        features=torch.cat(feats), attr_probs=[torch.cat(p) for p in probs] if probs is not None else [],
        pids=split.pids.cpu(), camids=split.camids.cpu(), pool5=torch.cat(pooled) if pooled else None,
    )
