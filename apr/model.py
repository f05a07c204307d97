"""The APR network (paper §4.2, Fig. 5) and its baselines, in one file.

::

    image -> backbone (ResNet, global average pool = "pool5", F-d)
          -> attribute heads: one Linear(F, C_j) per attribute j on pool5     (f_A^j)
          -> ã_j in [0, 1] per attribute (see below), ã in R^m
          -> ARM: c = sigmoid(V ã + b), a = c * ã                              (Eqs. 3-4)
          -> embedding: Linear(F, 512) -> BatchNorm -> Dropout(0.5) -> ReLU   (as the paper writes it)
          -> identity classifier on [embedding, a], 512 + m inputs            (Eq. 5; 539 on Market)

How ã is formed (the paper only says ã_j in [0, 1] is "the score from f_A^j"): for a
binary attribute, the softmax probability of its second class ("yes", "female", "long"...);
for a multi-class attribute (Market's 4-class age), the expected class index scaled to
[0, 1], sum_c p_c * c / (C - 1), which keeps age's order (young -> old) in one number.

Variants (``APRConfig.variant``):

* ``apr``: the above.                  * ``apr_no_arm``: ã goes to the ID classifier as is.
* ``apr_no_attr_loss``: APR's network trained with the ID loss only ("w/o attri").
* ``ide`` (Baseline 1): pool5 -> ID classifier; no attributes, no embedding.
* ``arn`` (Baseline 2): pool5 -> attribute heads only; no ID classifier.
"""

from __future__ import annotations

import contextlib
import io
import sys
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
import torchvision
from torch import nn

from .config import variant_spec

# Global-pooled feature size of each backbone ("pool5" for the ResNets). The small
# MobileNet/ShuffleNet models make CPU-scale runs (the book's default) several times faster.
FEATURE_DIMS = {"resnet18": 512, "resnet34": 512, "resnet50": 2048, "resnet101": 2048,
                "mobilenet_v3_small": 576, "shufflenet_v2_x0_5": 1024, "shufflenet_v2_x1_0": 1024}


# Depthwise convolutions on maps of at most this many cells run as one small matrix product per channel on
# the CPU (:class:`SmallMapDepthwiseConv2d`).
SMALL_MAP_CELLS = 8


def _neighbour_kernel_index(height: int, width: int, kernel: int, padding: int, device: torch.device,
                            dtype: torch.dtype) -> torch.Tensor:
    """(k*k, out_cells * in_cells) 0/1 matrix: which kernel tap links output cell o to input cell s."""
    out_y = torch.arange(height, device=device).view(height, 1, 1, 1)
    out_x = torch.arange(width, device=device).view(1, width, 1, 1)
    in_y = torch.arange(height, device=device).view(1, 1, height, 1)
    in_x = torch.arange(width, device=device).view(1, 1, 1, width)
    dy, dx = in_y - out_y + padding, in_x - out_x + padding
    inside = (dy >= 0) & (dy < kernel) & (dx >= 0) & (dx < kernel)
    tap = torch.where(inside, dy * kernel + dx, kernel * kernel).reshape(-1)       # k*k: no tap (zero padding)
    onehot = torch.zeros(kernel * kernel + 1, tap.numel(), device=device, dtype=dtype)
    onehot[tap, torch.arange(tap.numel(), device=device)] = 1
    return onehot[:-1]


class SmallMapDepthwiseConv2d(nn.Conv2d):
    """A depthwise, stride-1 convolution that, on the CPU and on maps of at most ``SMALL_MAP_CELLS`` cells,
    computes each channel as one (cells x cells) matrix product instead of calling oneDNN.

    Why: at the quick preset's 96x48 input, MobileNetV3-small ends on 3x2 maps, where oneDNN's depthwise kernels
    cost far more than their few multiply-adds (``benchmarks/bench_depthwise.py`` times a whole step both ways).
    The result equals ``nn.Conv2d``'s up to floating-point rounding; the parameters and the state dict are those
    of ``nn.Conv2d``. Larger maps, other devices and other convolutions take ``nn.Conv2d``'s path.
    """

    def __init__(self, conv: nn.Conv2d) -> None:
        super().__init__(conv.in_channels, conv.out_channels, conv.kernel_size, conv.stride, conv.padding,
                         conv.dilation, conv.groups, conv.bias is not None, conv.padding_mode)
        self.weight, self.bias = conv.weight, conv.bias
        self._taps: dict[tuple, torch.Tensor] = {}

    @staticmethod
    def fits(conv: nn.Module) -> bool:
        """Whether ``conv`` is a depthwise, stride-1, undilated, square, zero-padded convolution."""
        return (type(conv) is nn.Conv2d and conv.groups == conv.in_channels == conv.out_channels > 1
                and conv.stride == (1, 1) and conv.dilation == (1, 1) and conv.padding_mode == "zeros"
                and conv.kernel_size[0] == conv.kernel_size[1] and isinstance(conv.padding, tuple)
                and conv.padding[0] == conv.padding[1] == conv.kernel_size[0] // 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The depthwise convolution of ``x``: as shifted multiply-adds on a CPU's small maps, else the convolution
        itself."""
        batch, channels, height, width = x.shape
        cells = height * width
        if x.device.type != "cpu" or cells > SMALL_MAP_CELLS:
            return super().forward(x)
        kernel = self.kernel_size[0]
        key = (height, width, x.dtype)
        if key not in self._taps:
            self._taps[key] = _neighbour_kernel_index(height, width, kernel, self.padding[0], x.device, x.dtype)
        # matrix[c, o, s]: the weight that carries input cell s of channel c to output cell o.
        matrix = (self.weight.reshape(channels, kernel * kernel) @ self._taps[key]).reshape(channels, cells, cells)
        out = torch.einsum("ncs,cos->nco", x.contiguous().reshape(batch, channels, cells), matrix)
        out = out.reshape(batch, channels, height, width)
        if self.bias is not None:
            out = out + self.bias.view(1, channels, 1, 1)
        channels_last = x.is_contiguous(memory_format=torch.channels_last) and not x.is_contiguous()
        return out.contiguous(memory_format=torch.channels_last if channels_last else torch.contiguous_format)


def use_small_map_depthwise(net: nn.Module) -> int:
    """Replace every :meth:`SmallMapDepthwiseConv2d.fits` convolution of ``net`` in place (same parameters);
    returns how many were replaced."""
    targets = [(parent, name, child) for parent in net.modules() for name, child in parent.named_children()
               if SmallMapDepthwiseConv2d.fits(child)]
    for parent, name, child in targets:
        setattr(parent, name, SmallMapDepthwiseConv2d(child))
    return len(targets)


@dataclass
class APROutput:
    """What one forward pass returns (fields a variant does not have are None)."""

    pool5: torch.Tensor                        # (B, F)
    embedding: torch.Tensor | None             # (B, 512)
    attr_logits: list[torch.Tensor] | None     # m tensors (B, C_j)
    attr_scores: torch.Tensor | None           # ã (B, m)
    attr_weighted: torch.Tensor | None         # a = c * ã (B, m); ã itself without ARM
    id_logits: torch.Tensor | None             # (B, K)

    def test_feature(self, kind: str = "concat") -> torch.Tensor:
        """The re-ID feature: [embedding, re-weighted attributes] (paper §4.2), or pool5.

        The IDE and ARN baselines have no embedding; their feature is pool5.
        """
        if kind == "pool5" or self.embedding is None:
            return self.pool5
        return torch.cat([self.embedding, self.attr_weighted], 1) if self.attr_weighted is not None else self.embedding


class ARM(nn.Module):
    """Attribute Re-weighting Module: c = sigmoid(V ã + b), a = c * ã (Eqs. 3-4)."""

    def __init__(self, num_attributes: int) -> None:
        super().__init__()
        self.fc = nn.Linear(num_attributes, num_attributes)   # V (m x m) and b (m)

    def forward(self, scores: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``scores`` ã (B, m) -> (re-weighted a (B, m), confidences c (B, m))."""
        confidence = torch.sigmoid(self.fc(scores))
        return confidence * scores, confidence


def attribute_scores(logits: Sequence[torch.Tensor]) -> torch.Tensor:
    """ã (B, m) from the m attribute heads' logits (see the module docstring)."""
    return scores_from_probs([logit.float().softmax(1) for logit in logits])


def scores_from_probs(probs: Sequence[torch.Tensor]) -> torch.Tensor:
    """ã (B, m) from each attribute's class probabilities (B, C_j): P(second class) for a binary attribute, the
    expected class index scaled to [0, 1] for a multi-class one; a one-hot label gives the label's score."""
    cols = []
    for p in probs:
        c = p.shape[1]
        if c == 2:
            cols.append(p[:, 1])
        else:
            cols.append((p * torch.arange(c, device=p.device, dtype=p.dtype)).sum(1) / (c - 1))
    return torch.stack(cols, 1)


def imagenet_weights_file(name: str) -> Path:
    """Where torchvision keeps ``name``'s ImageNet weights: ``$TORCH_HOME/hub/checkpoints/<file>``."""
    weights = torchvision.models.get_model_weights(name).DEFAULT
    return Path(torch.hub.get_dir()) / "checkpoints" / Path(weights.url).name


def imagenet_state_dict(name: str) -> tuple[dict[str, torch.Tensor], Path]:
    """``name``'s ImageNet weights through torchvision's weights API: its cache, else a download.

    Without a cached file and without a network, one ``FileNotFoundError`` names the file,
    the folder torchvision looks in and the alternatives.
    """
    path = imagenet_weights_file(name)
    cached = path.is_file()
    try:
        # torch.hub prints "Downloading: ..." (to stdout) before it tries; keep it back so a failure stays one line
        with contextlib.redirect_stdout(io.StringIO()):
            state = torchvision.models.get_model_weights(name).DEFAULT.get_state_dict(progress=False, check_hash=True)
        if not cached:
            print(f"downloaded the ImageNet weights of {name} to '{path}'", file=sys.stderr)
    except (OSError, RuntimeError) as exc:   # URLError is an OSError; a bad download's hash is a RuntimeError
        reason = getattr(exc, "reason", None) or exc
        raise FileNotFoundError(
            f"pretrained=imagenet: no ImageNet weights for {name}: '{path.name}' is not in '{path.parent}' "
            f"($TORCH_HOME/hub/checkpoints) and downloading it failed ({reason}); copy the file there, "
            f"or pass --set pretrained=/path/to/{path.name} (pretrained=none trains from random weights)"
        ) from None
    return state, path


def load_backbone(name: str, pretrained: str = "imagenet") -> tuple[nn.Module, str]:
    """A torchvision backbone without its classifier, and a note on its initialisation.

    ``pretrained``: ``"imagenet"`` loads torchvision's ImageNet weights (its cache, else a
    download; an error when neither works); ``"auto"`` loads them only when they are
    already cached and otherwise warns and starts from random weights; ``"none"`` starts
    from random weights; any other value is a path to a state dict. Missing weights are
    reported in the note, never silently ignored.
    """
    if name not in FEATURE_DIMS:
        raise ValueError(f"unknown backbone {name!r}; expected one of {', '.join(FEATURE_DIMS)}")
    net = getattr(torchvision.models, name)(weights=None)
    note = "random initialisation"
    if pretrained == "imagenet":
        state, path = imagenet_state_dict(name)
        net.load_state_dict(state)
        note = f"ImageNet weights ({path.name}, torchvision)"
    elif pretrained == "auto":
        cached = imagenet_weights_file(name)
        if cached.is_file():
            net.load_state_dict(torch.load(cached, map_location="cpu", weights_only=True))
            note = f"ImageNet weights from {cached}"
        else:
            warnings.warn(f"no cached ImageNet weights for {name} at {cached}; training from random initialisation",
                          stacklevel=2)
            note = f"random initialisation (no ImageNet weights at {cached})"
    elif pretrained not in ("none", "", None):
        path = Path(pretrained)
        if not path.is_file():
            raise FileNotFoundError(f"pretrained weights file not found: '{path}'")
        state = torch.load(path, map_location="cpu", weights_only=True)
        missing, unexpected = net.load_state_dict(state, strict=False)
        head = ("fc.", "classifier.")      # the ImageNet classifier, dropped below anyway
        if [k for k in missing if not k.startswith(head)] or [k for k in unexpected if not k.startswith(head)]:
            raise ValueError(f"'{path}' does not fit {name}: missing {missing[:5]}, unexpected {unexpected[:5]}")
        note = f"weights from {path}"
    use_small_map_depthwise(net)           # MobileNet's and ShuffleNet's depthwise layers on tiny maps (CPU)
    if name.startswith("mobilenet"):
        net.classifier = nn.Identity()     # features -> global average pool -> (B, 576)
    else:
        net.fc = nn.Identity()             # ResNet / ShuffleNet: global average pool -> (B, F)
    return net, note


class APR(nn.Module):
    """APR and its variants.

    Parameters
    ----------
    num_ids
        Identities of the training split (ID classifier outputs); ignored by ``arn``.
    attribute_classes
        Number of classes of each attribute used (e.g. 26 x 2 and age 4 on Market).
    variant, backbone, pretrained, embed_dim, dropout
        See :class:`apr.config.APRConfig`.
    """

    def __init__(self, num_ids: int, attribute_classes: Sequence[int], variant: str = "apr", backbone: str = "resnet50",
                 pretrained: str = "imagenet", embed_dim: int = 512, dropout: float = 0.5) -> None:
        super().__init__()
        self.variant = variant
        self.backbone, self.init_note = load_backbone(backbone, pretrained)
        dim = FEATURE_DIMS[backbone]
        spec = variant_spec(variant)
        m = len(attribute_classes) if spec.attribute_heads else 0
        if spec.attribute_heads and m == 0:
            raise ValueError(f"variant {variant!r} needs at least one attribute")
        self.attr_heads = nn.ModuleList(nn.Linear(dim, c) for c in attribute_classes) if spec.attribute_heads else None
        self.arm = ARM(m) if spec.arm else None
        self.embedding, self.id_classifier = None, None              # ARN: attributes only
        if spec.embedding:
            self.embedding = nn.Sequential(nn.Linear(dim, embed_dim), nn.BatchNorm1d(embed_dim), nn.Dropout(dropout),
                                           nn.ReLU())
            self.id_classifier = nn.Linear(embed_dim + m, num_ids)
        elif spec.id_loss:                                           # IDE: the ID classifier on pool5
            self.id_classifier = nn.Linear(dim, num_ids)
        self._init_heads()

    def _init_heads(self) -> None:
        """Initialise the new layers as common re-ID baselines do (the paper does not say).

        Embedding FC: Kaiming normal (fan-out); classifiers (ID and attributes): N(0, 0.001), zero bias: a
        short schedule fits the ID branch far better than from PyTorch's default initialisation.
        """
        if self.embedding is not None:
            nn.init.kaiming_normal_(self.embedding[0].weight, mode="fan_out")
            nn.init.zeros_(self.embedding[0].bias)
        classifiers = ([self.id_classifier] if self.id_classifier is not None else []) + list(self.attr_heads or [])
        for layer in classifiers:
            nn.init.normal_(layer.weight, std=0.001)
            nn.init.zeros_(layer.bias)

    def forward(self, images: torch.Tensor) -> APROutput:
        """One pass (paper §4.2, Fig. 5): pool5, the attribute logits and predictions ã, ARM's re-weighted a, the
        embedding and the ID logits (on [embedding, a]; on pool5 for IDE)."""
        pool5 = self.backbone(images)                                          # (B, F)
        logits = [head(pool5) for head in self.attr_heads] if self.attr_heads is not None else None
        scores = attribute_scores(logits).to(pool5.dtype) if logits is not None else None    # ã (B, m)
        weighted = self.arm(scores)[0] if self.arm is not None else scores    # a (B, m)
        embedding = self.embedding(pool5) if self.embedding is not None else None
        if self.id_classifier is None:
            id_logits = None
        elif embedding is None:
            id_logits = self.id_classifier(pool5)                              # IDE
        else:
            id_logits = self.id_classifier(torch.cat([embedding, weighted], 1) if weighted is not None else embedding)
        return APROutput(pool5, embedding, logits, scores, weighted, id_logits)


def attribute_loss(logits: Sequence[torch.Tensor], targets: torch.Tensor, reduction: str = "mean") -> torch.Tensor:
    """Each attribute's cross-entropy (labels -1 ignored), averaged (Eq. 6) or summed (Eq. 2) over attributes.

    An attribute with no labelled image in the batch is left out.
    """
    if reduction not in ("mean", "sum"):
        raise ValueError(f"reduction={reduction!r}: expected mean or sum")
    losses = []
    for j, logit in enumerate(logits):
        t = targets[:, j]
        if (t >= 0).any():
            losses.append(F.cross_entropy(logit.float(), t, ignore_index=-1))
    if not losses:
        return logits[0].sum() * 0.0
    stacked = torch.stack(losses)
    return stacked.mean() if reduction == "mean" else stacked.sum()
