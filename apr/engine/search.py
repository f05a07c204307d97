"""Your own images against a gallery folder: ranked lists, search by predicted attributes, and a page to look at.

A trained run (:class:`apr.engine.extractor.Extractor`) embeds the query images and the gallery folder; then

* :func:`ranked` gives each query's top gallery images by distance: the squared Euclidean distance between the
  run's test features (what :func:`apr.evaluation.metrics.evaluate_ranking` ranks), or with ``rerank=True`` the
  k-reciprocal re-ranked distance of Zhong et al. 2017 (k1 = 20, k2 = 6, λ = 0.3; k1 at most the images - 1);
* :func:`parse_where` and :func:`attribute_hits` keep the gallery images whose predicted class of each named
  attribute has at least ``min_confidence`` probability (``gender=female backpack=yes``); :func:`ranked` takes
  that filter too, and without queries lists the hits by their joint confidence;
* :func:`ranked_page` writes the result as one self-contained HTML page (thumbnails embedded, every text escaped).

    ex = Extractor.from_run("runs/apr-...")
    gallery, queries = ex(image_files("gallery/")), ex(["me.jpg"])
    table = ranked(queries, gallery, where=parse_where("gender=female", attribute_classes(ex)), top=10)
"""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

from ..data.attributes import SCHEMAS
from ..data.datasets import stands_for
from ..data.tensors import read_image
from ..evaluation.metrics import pairwise_distances
from ..evaluation.rerank import K1, K2, k_reciprocal_rerank
from .extractor import Extraction, Extractor

NO_YES_WORDS = {"no": 0, "false": 0, "yes": 1, "true": 1}


def attribute_classes(extractor: Extractor) -> dict[str, tuple[str, ...]]:
    """The class names of each attribute the run predicts: its dataset's (Market-1501's for the synthetic
    stand-in), else ``no``/``yes`` for two classes and ``0``, ``1``, ... for more (as a custom dataset's)."""
    schema = SCHEMAS.get(stands_for(extractor.config.dataset))
    known = {a.name: tuple(a.classes) for a in schema.attributes} if schema is not None else {}
    out = {}
    for name, head in zip(extractor.attribute_names, extractor.model.attr_heads or []):
        count = head.out_features
        named = known.get(name)
        out[name] = named if named and len(named) == count else (
            ("no", "yes") if count == 2 else tuple(str(k) for k in range(count)))
    return out


def parse_where(where: str | Sequence[str], classes: Mapping[str, Sequence[str]]) -> dict[str, int]:
    """``"gender=female backpack=yes"`` (or a list of ``name=value``) as {attribute: class index}; a value is a
    class name, a class index, or yes/no/true/false for two classes. One error naming what is wrong and the valid
    choices."""
    pairs = where.split() if isinstance(where, str) else [p for item in where for p in item.split()]
    out = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name or not value:
            raise ValueError(f"--where {pair!r}: expected name=value, e.g. gender=female")
        if name not in classes:
            raise ValueError(f"--where {pair!r}: the run predicts no attribute {name!r}; it predicts "
                             f"{', '.join(classes)}")
        names = [c.lower() for c in classes[name]]
        if value.lower() in names:
            out[name] = names.index(value.lower())
        elif value.isdigit() and int(value) < len(names):
            out[name] = int(value)
        elif len(names) == 2 and value.lower() in NO_YES_WORDS:
            out[name] = NO_YES_WORDS[value.lower()]
        else:
            raise ValueError(f"--where {pair!r}: {name} is one of {', '.join(classes[name])} (or 0..{len(names) - 1})")
    return out


def attribute_hits(gallery: Extraction, where: Mapping[str, int], min_confidence: float = 0.5) -> np.ndarray:
    """(N,) bool: the images whose probability of each asked class is at least ``min_confidence``."""
    if not 0 <= min_confidence <= 1:
        raise ValueError(f"--min-confidence {min_confidence}: expected a probability in [0, 1]")
    keep = np.ones(len(gallery.features), bool)
    for name, cls in where.items():
        keep &= gallery.attributes[name][:, cls] >= min_confidence
    return keep


def _predicted(gallery: Extraction, index: int, classes: Mapping[str, Sequence[str]]) -> str:
    """An image's predicted attributes in words, each with its probability: a no/yes attribute by its name when
    predicted yes (and left out when no), any other by its predicted class (``gender=female 0.62``)."""
    words = []
    for name, probs in gallery.attributes.items():
        k = int(np.argmax(probs[index]))
        names = classes.get(name) or tuple(str(c) for c in range(probs.shape[1]))
        if tuple(names) == ("no", "yes"):
            if k == 1:
                words.append(f"{name} {probs[index, 1]:.2f}")
        else:
            words.append(f"{name}={names[k]} {probs[index, k]:.2f}")
    return ", ".join(words)


def ranked(queries: Extraction | None, gallery: Extraction, *, where: Mapping[str, int] | None = None,
           min_confidence: float = 0.5, top: int = 10, rerank: bool = False,
           classes: Mapping[str, Sequence[str]] | None = None) -> pd.DataFrame:
    """Each query's ``top`` gallery images, nearest first, among those :func:`attribute_hits` keeps for ``where``;
    without queries, the hits themselves, most confident first (the product of the asked classes' probabilities).

    Columns: ``query`` (its file, or "" for an attribute search), ``rank`` (1 = nearest), ``gallery`` (the file),
    ``distance`` (squared Euclidean of the test features, or the re-ranked distance; NaN without a query),
    ``confidence`` (of the ``where`` classes; 1 without), ``attributes`` (the hit's predicted attributes)."""
    if top < 1:
        raise ValueError(f"--top {top}: expected at least 1")
    if queries is None and not where:
        raise ValueError("nothing to rank: give query images, attribute conditions (--where), or both")
    where = dict(where or {})
    keep = attribute_hits(gallery, where, min_confidence)
    confidence = np.ones(len(keep))
    for name, cls in where.items():
        confidence *= gallery.attributes[name][:, cls]
    classes = classes or {}
    rows = []
    if queries is None:
        order = np.flatnonzero(keep)[np.argsort(-confidence[keep], kind="stable")][:top]
        rows = [{"query": "", "rank": r + 1, "gallery": gallery.sources[g], "distance": float("nan"),
                 "confidence": float(confidence[g]), "attributes": _predicted(gallery, g, classes)}
                for r, g in enumerate(order)]
    else:
        dist = pairwise_distances(queries.features, gallery.features).numpy().astype(np.float64)
        if rerank:   # the paper's k1 = 20 and k2 = 6, capped by a small set's size
            k1 = min(K1, len(dist) + dist.shape[1] - 1)
            dist = k_reciprocal_rerank(dist, pairwise_distances(queries.features, queries.features).numpy(),
                                       pairwise_distances(gallery.features, gallery.features).numpy(),
                                       k1=k1, k2=min(K2, k1 + 1))
            dist = np.asarray(dist, dtype=np.float64)
        dist[:, ~keep] = np.inf
        for q in range(len(dist)):
            order = np.argsort(dist[q], kind="stable")[:top]
            rows += [{"query": queries.sources[q] if queries.sources else str(q), "rank": r + 1,
                      "gallery": gallery.sources[g], "distance": float(dist[q, g]), "confidence": float(confidence[g]),
                      "attributes": _predicted(gallery, g, classes)}
                     for r, g in enumerate(order) if np.isfinite(dist[q, g])]
    return pd.DataFrame(rows, columns=["query", "rank", "gallery", "distance", "confidence", "attributes"])


def _thumbnail(path: str, size: tuple[int, int] = (128, 64)) -> str:
    """A data URI of the image at ``size`` (H, W), so that the page needs no other file."""
    buffer = io.BytesIO()
    Image.fromarray(read_image(path, size)).save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def ranked_page(table: pd.DataFrame, path: str | Path, title: str) -> Path:
    """Write ``table`` (from :func:`ranked`) as one HTML page: a row per query (or one row of hits), the query
    first, then each hit's thumbnail with its rank, distance or confidence, file name and predicted attributes.
    Every text is escaped; thumbnails are embedded."""
    path = Path(path)
    rows = []
    for query, hits in table.groupby("query", sort=False):
        cells = []
        if query:
            cells.append(f'<figure class="query"><img src="{_thumbnail(query)}" alt="query"><figcaption><b>query</b>'
                         f"<br>{html.escape(Path(query).name)}</figcaption></figure>")
        for hit in hits.itertuples():
            score = f"distance {hit.distance:.4g}" if np.isfinite(hit.distance) else f"confidence {hit.confidence:.2f}"
            cells.append(f'<figure><img src="{_thumbnail(hit.gallery)}" alt="rank {hit.rank}"><figcaption>'
                         f"<b>{hit.rank}</b> · {html.escape(score)}<br>{html.escape(Path(hit.gallery).name)}"
                         f"<br><small>{html.escape(hit.attributes)}</small></figcaption></figure>")
        rows.append(f'<div class="row">{"".join(cells)}</div>')
    page = ("<!doctype html><meta charset='utf-8'><meta name='viewport' content='width=device-width'>"
            f"<title>{html.escape(title)}</title><style>body{{font:14px sans-serif;margin:1em}}"
            ".row{display:flex;flex-wrap:wrap;gap:8px;margin-bottom:1.5em}figure{margin:0;width:132px}"
            "img{width:64px;height:128px;display:block;border:2px solid #bbb}.query img{border-color:#1f77b4}"
            f"figcaption{{font-size:12px;overflow-wrap:anywhere}}</style><h1>{html.escape(title)}</h1>"
            + ("".join(rows) or "<p>No gallery image meets the conditions.</p>"))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(page, encoding="utf-8")
    return path
