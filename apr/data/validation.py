"""A validation split carved from the training identities (paper §5.1: 651 train / 100 validation).

The paper chooses λ on identities held out of Market-1501's training set, then fixes it for the
test split. :func:`hold_out_validation` does the same to any loaded dataset: ``num_ids``
training identities, chosen with the data seed, leave the training split; each of their images
becomes a gallery image, and the first image of each (identity, camera) is also a query. The
usual Market rule then leaves out the query itself and the same-camera images of its identity,
so every query is matched across cameras, as on the test split. A dataset without camera labels
(PETA) follows its own test rule instead: one query per held identity with two images or more.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import replace

import numpy as np

from .datasets import ReidData


def hold_out_validation(data: ReidData, num_ids: int, seed: int) -> ReidData:
    """``data`` with ``num_ids`` training identities moved to a validation query/gallery pair."""
    ids = sorted({r.pid for r in data.train})
    if not 1 <= num_ids < len(ids):
        raise ValueError(f"validation_ids={num_ids}: expected 1 to {len(ids) - 1} (the training split of "
                         f"{data.name} has {len(ids)} identities)")
    held = set(np.random.default_rng(seed).choice(ids, size=num_ids, replace=False).tolist())
    train = [i for i, r in enumerate(data.train) if r.pid not in held]
    gallery = [i for i, r in enumerate(data.train) if r.pid in held]
    first_shots: dict[tuple[int, int], int] = {}
    for i in gallery:
        first_shots.setdefault((data.train[i].pid, data.train[i].camid), i)
    camera = {}
    if len({r.camid for r in data.train}) == 1:
        # No camera labels (PETA): the rule of its test split, one query per identity with two images or more,
        # on camera 1 and out of the gallery, whose images stay on the other camera.
        images_per_id = Counter(data.train[i].pid for i in gallery)
        query = [i for (pid, _), i in sorted(first_shots.items()) if images_per_id[pid] >= 2]
        camera = {i: 1 for i in query}
        gallery = [i for i in gallery if i not in camera]
    else:
        cameras_per_id = {pid: sum(1 for (p, _) in first_shots if p == pid) for pid in held}
        # A query needs a true match in another camera: identities seen by one camera give none.
        query = [i for (pid, _), i in sorted(first_shots.items()) if cameras_per_id[pid] >= 2]

    def records(indices: list[int], split: str) -> list:
        return [replace(data.train[i], split=split, camid=camera.get(i, data.train[i].camid)) for i in indices]

    attributes = {}
    if "train" in data.attributes:
        labels = data.attributes["train"]
        attributes = {"train": labels[train], "query": labels[query], "gallery": labels[gallery]}
    return replace(data, train=records(train, "train"), query=records(query, "query"),
                   gallery=records(gallery, "gallery"), attributes=attributes)
