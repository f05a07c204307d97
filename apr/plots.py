"""Figures: data in, matplotlib ``Figure`` out; :func:`save_figure` writes PNG (+ CSV).

Styling happens inside ``with sns.axes_style(...)`` blocks, never globally.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # no display needed; notebooks still show figures inline

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402

from .data.paths import FIGURES  # noqa: E402
from .data.render import make_cameras, make_identity, render  # noqa: E402
from .data.synthetic import sample_from_prior  # noqa: E402

# (attribute, value A, value B, forced view, caption) for the contrast panel.
CONTRASTS = (
    ("gender", 0, 1, "front", "male / female"),
    ("hair", 0, 1, "back", "short / long hair"),
    ("up", 0, 1, "front", "long / short sleeve"),
    ("down", 0, 1, "front", "long / short lower"),
    ("clothes", 1, 0, "front", "pants / dress"),
    ("hat", 0, 1, "front", "no hat / hat"),
    ("backpack", 0, 1, "back", "backpack (back)"),
    ("backpack", 0, 1, "front", "backpack (front)"),
    ("handbag", 0, 1, "front", "handbag"),
    ("bag", 0, 1, "front", "other bag"),
    ("age", 2, 0, "front", "adult / child"),
    ("upblack", 0, 1, "front", "upper colour"),
)


def synthetic_samples_figure(seed: int = 0) -> plt.Figure:
    """One identity across six cameras, then attribute contrasts (one attribute flipped).

    Contrasts keep the person, the camera and every random draw fixed, so the only change
    in each pair is the named attribute.
    """
    rng = np.random.default_rng(seed)
    cameras = make_cameras(6, np.random.default_rng([seed, 10_000]))
    base = sample_from_prior(1, rng).iloc[0].to_dict()
    base.update(gender=1, hair=1, up=1, clothes=1, down=0, hat=0, backpack=1, handbag=0, bag=0, age=2)
    person = make_identity(1, base, np.random.default_rng([seed, 1]))
    plain = {**base, "backpack": 0, "gender": 0, "hair": 0, "up": 0}
    plain.update({k: 0 for k in base if k.startswith("up") and k != "up"}, upblue=1)
    with sns.axes_style("white"):
        fig = plt.figure(figsize=(11, 9), dpi=100)
        grid = fig.add_gridspec(3, 1, hspace=0.22)
        top = grid[0].subgridspec(1, 6, wspace=0.08)
        for c, cam in enumerate(cameras):
            ax = fig.add_subplot(top[c])
            ax.imshow(render(person, cam, np.random.default_rng([seed, 2, c])))
            ax.set_title(f"camera {cam.camid}", fontsize=9)
            ax.axis("off")
        half = len(CONTRASTS) // 2
        rows = [grid[1].subgridspec(1, 2 * half, wspace=0.04), grid[2].subgridspec(1, 2 * half, wspace=0.04)]
        for i, (attr, a, b, view, caption) in enumerate(CONTRASTS):
            row, col = rows[i // half], 2 * (i % half)
            for j, value in enumerate((a, b)):
                ident = make_identity(2, {**plain, attr: value}, np.random.default_rng([seed, 3]))
                ax = fig.add_subplot(row[col + j])
                ax.imshow(render(ident, cameras[2], np.random.default_rng([seed, 4, i]), view=view))
                ax.axis("off")
                if j == 0:
                    ax.set_title(caption, fontsize=9, x=1.0, ha="center")
        fig.suptitle("Synthetic Market-1501 stand-in: one identity across six cameras (top);\n"
                     "attribute contrasts, same person, camera and noise with one attribute flipped (below)",
                     fontsize=10, y=0.95)
    return fig


def save_figure(fig: plt.Figure, name: str, data: pd.DataFrame | None = None, folder: str | Path | None = None) -> Path:
    """Save ``fig`` as ``<folder>/<name>.png`` (default folder: ``figures/``), and ``data``
    as ``<name>.csv`` beside it when given. Returns the PNG path."""
    folder = Path(folder) if folder is not None else FIGURES
    folder.mkdir(parents=True, exist_ok=True)
    png = folder / f"{name}.png"
    fig.savefig(png, bbox_inches="tight", metadata={"Software": None})
    if data is not None:
        data.to_csv(folder / f"{name}.csv")
    return png
