"""The paper's objectives: APR's L = λ·L_ID + (1 − λ)·mean_j L_attr^j (Eq. 6), and its baselines'.

Eq. 6 as printed averages the m attribute losses ("mean": each attribute weighs (1 − λ)/m, 1/270 at λ = 0.9 with
Market's 27); the other reading ("sum", ``APRConfig.attribute_loss_reduction``) drops the 1/m, so that each attribute
weighs 1 − λ, as Eq. 2 weighs each of ARN's 1. The errata page says why the reading matters.

Variants: ``ide`` uses L_ID alone (Eq. 1); ``arn`` the *sum* of the attribute losses (Eq. 2: the
paper's Baseline 2 sums over the m attributes, which with SGD is m times the step of a mean);
``apr_no_attr_loss`` uses L_ID alone on APR's network. Every loss is a softmax cross-entropy;
labels -1 (unlabelled) are ignored.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from .config import variant_spec
from .model import APROutput, attribute_loss


@dataclass
class LossParts:
    """The total loss and its parts (parts a variant does not have are None)."""

    total: torch.Tensor
    id: torch.Tensor | None
    attr: torch.Tensor | None


def check_lambda(lambda_id: float) -> None:
    """One clear error unless ``lambda_id`` (Eq. 6's λ) is a number in [0, 1]."""
    if not isinstance(lambda_id, int | float) or not 0.0 <= float(lambda_id) <= 1.0:
        raise ValueError(f"lambda_id must be a number in [0, 1], got {lambda_id!r}")


def apr_loss(out: APROutput, labels: torch.Tensor, attrs: torch.Tensor, variant: str = "apr",
             lambda_id: float = 0.9, attribute_reduction: str = "mean") -> LossParts:
    """Eq. 6 for ``variant`` given a forward pass, ID labels (B,) and attribute labels (B, m); a variant that weighs
    two losses reduces its attribute losses by ``attribute_reduction`` ("mean" as printed, or "sum")."""
    check_lambda(lambda_id)
    if attribute_reduction not in ("mean", "sum"):
        raise ValueError(f"attribute_reduction must be mean or sum, got {attribute_reduction!r}")
    id_loss = F.cross_entropy(out.id_logits.float(), labels) if out.id_logits is not None else None
    spec = variant_spec(variant)
    # ARN alone: Eq. 2's sum over the attributes; w/o attri computes it only to report it.
    reduction = attribute_reduction if spec.id_loss else "sum"
    attr = attribute_loss(out.attr_logits, attrs, reduction) if out.attr_logits is not None else None
    if spec.weighs_losses:
        total = lambda_id * id_loss + (1.0 - lambda_id) * attr
    else:
        total = id_loss if spec.id_loss else attr
    return LossParts(total, id_loss, attr)
