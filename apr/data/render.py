"""Procedural pedestrians at Market-1501's native 128x64 resolution.

An image is drawn from three independent layers of randomness:

* :class:`Identity` (fixed per person): the attributes of the Market schema, and details
  no attribute captures: exact shades, a clothing pattern, shoe and bag colours, skin and
  hair tone, height and build;
* :class:`Camera` (fixed per camera): colour cast, brightness, contrast, background style,
  typical scale, blur, noise and which viewpoints it tends to see;
* per image: viewpoint (front, back, left, right), walking phase, position, scale jitter,
  background clutter and occlusion.

Viewpoint matters the way it does in real data: a backpack is a big bag seen from behind,
two straps and its edges from the front and a bump from the side; a handbag hangs on one side and can be
hidden by the body; a logo shows only from the front; long hair covers the back of the head.

Everything is numpy on a ``(H, W, 3)`` float canvas with soft (anti-aliased) shape edges.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

HEIGHT, WIDTH = 128, 64
VIEWS = ("front", "back", "left", "right")

# Base RGB of each colour word of the annotation files (shades vary per identity).
COLOUR_RGB = {
    "black": (0.10, 0.10, 0.11), "white": (0.90, 0.90, 0.88), "red": (0.78, 0.13, 0.13),
    "purple": (0.45, 0.20, 0.58), "yellow": (0.92, 0.80, 0.18), "gray": (0.50, 0.50, 0.52),
    "blue": (0.16, 0.30, 0.72), "green": (0.20, 0.55, 0.25), "brown": (0.45, 0.29, 0.16),
    "pink": (0.93, 0.55, 0.68),
}
# Colours outside the annotated lists, for identities whose file marks no colour.
OTHER_RGB = ((0.90, 0.50, 0.15), (0.80, 0.72, 0.55), (0.15, 0.55, 0.55), (0.55, 0.10, 0.20))
SKIN_RGB = ((0.96, 0.80, 0.69), (0.87, 0.67, 0.53), (0.72, 0.52, 0.38), (0.50, 0.34, 0.24), (0.35, 0.24, 0.17))
HAIR_RGB = ((0.08, 0.06, 0.05), (0.25, 0.16, 0.09), (0.45, 0.32, 0.18), (0.78, 0.65, 0.40))
PATTERNS = ("plain", "plain", "stripes", "checks", "logo", "two-tone")


@dataclass(frozen=True)
class Identity:
    """Everything about one person that stays the same across cameras."""

    pid: int
    attrs: dict[str, int]         # Market coding (0/1, age 0..3, -1 unlabelled)
    upper_rgb: np.ndarray         # (3,)
    upper_rgb2: np.ndarray        # secondary colour of the pattern
    lower_rgb: np.ndarray
    pattern: str
    pattern_period: float
    skin_rgb: np.ndarray
    hair_rgb: np.ndarray
    shoe_rgb: np.ndarray
    bag_rgb: np.ndarray
    hat_rgb: np.ndarray
    height: float                 # fraction of the frame the standing person fills
    build: float                  # width multiplier
    bag_side: int                 # +1: right hand, -1: left hand (image coordinates, front view)


@dataclass(frozen=True)
class Camera:
    """Per-camera imaging conditions."""

    camid: int
    gain: np.ndarray              # (3,) per-channel colour cast
    brightness: float
    contrast: float
    saturation: float
    background: np.ndarray        # (3,) base wall colour
    ground: np.ndarray            # (3,) base floor colour
    scale: float
    blur: int                     # box-blur radius in pixels
    noise: float
    view_weights: np.ndarray      # (4,) probabilities of VIEWS


def _jitter_colour(rgb: tuple[float, float, float] | np.ndarray, rng: np.random.Generator, amount: float) -> np.ndarray:
    base = np.asarray(rgb, dtype=np.float32) * rng.uniform(0.8, 1.15)
    return np.clip(base + rng.normal(0, amount, 3), 0, 1).astype(np.float32)


BAG_COLOURS = ("black", "brown", "gray", "blue", "red")


def _bag_colour(upper: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A bag's colour, one that stands out from the top it is worn over: in a flat drawing a bag of the shirt's
    colour vanishes, where a photograph still shows its edges, shading and texture."""
    options = [c for c in BAG_COLOURS if np.abs(np.asarray(COLOUR_RGB[c]) - upper).sum() > 0.45] or list(BAG_COLOURS)
    return _jitter_colour(COLOUR_RGB[str(rng.choice(options))], rng, 0.06)


def _marked(attrs: dict[str, int], prefix: str, colours: tuple[str, ...]) -> list[str]:
    return [c for c in colours if attrs.get(f"{prefix}{c}", 0) == 1]


def make_identity(pid: int, attrs: dict[str, int], rng: np.random.Generator,
                  colours: tuple[tuple[str, ...], tuple[str, ...]] | None = None) -> Identity:
    """Draw the appearance details of person ``pid`` whose attributes are ``attrs``.

    ``colours``: the upper- and lower-body colour names the ``up<colour>`` / ``down<colour>`` flags of
    ``attrs`` use (default: Market-1501's)."""
    from .attributes import MARKET_DOWN_COLOURS, MARKET_UP_COLOURS

    up_colours, down_colours = colours or (MARKET_UP_COLOURS, MARKET_DOWN_COLOURS)
    ups = _marked(attrs, "up", up_colours)
    downs = _marked(attrs, "down", down_colours)
    other = OTHER_RGB[rng.integers(len(OTHER_RGB))]
    upper = _jitter_colour(COLOUR_RGB[ups[0]] if ups else other, rng, 0.05)
    lower = _jitter_colour(COLOUR_RGB[downs[0]] if downs else OTHER_RGB[rng.integers(len(OTHER_RGB))], rng, 0.05)
    pattern = str(rng.choice(PATTERNS))
    if len(ups) > 1:  # several colours marked: a two-coloured top
        pattern, second = "two-tone", _jitter_colour(COLOUR_RGB[ups[1]], rng, 0.04)
    else:
        shift = rng.choice([-0.35, 0.35])
        second = np.clip(upper + shift + rng.normal(0, 0.1, 3), 0, 1).astype(np.float32)
    age = attrs.get("age", 2)
    height = {0: 0.62, 1: 0.82, 2: 0.90, 3: 0.86}.get(age, 0.9) * rng.uniform(0.94, 1.05)
    hair = HAIR_RGB[rng.integers(len(HAIR_RGB))]
    if age == 3:
        hair = (0.72, 0.72, 0.72)
    return Identity(
        pid=pid, attrs=dict(attrs), upper_rgb=upper, upper_rgb2=second, lower_rgb=lower,
        pattern=pattern, pattern_period=float(rng.uniform(2.5, 5.0)),
        skin_rgb=_jitter_colour(SKIN_RGB[rng.integers(len(SKIN_RGB))], rng, 0.02),
        hair_rgb=_jitter_colour(hair, rng, 0.03),
        shoe_rgb=_jitter_colour(COLOUR_RGB[str(rng.choice(["black", "white", "brown", "gray", "blue"]))], rng, 0.05),
        bag_rgb=_bag_colour(upper, rng),
        hat_rgb=_jitter_colour(COLOUR_RGB[str(rng.choice(["black", "white", "red", "blue", "gray"]))], rng, 0.05),
        height=float(height), build=float(rng.uniform(0.85, 1.2)), bag_side=int(rng.choice([-1, 1])),
    )


# DukeMTMC-reID's shoe colours: "dark" and "bright" shoes (black, brown, charcoal; white, beige).
DARK_SHOES = ((0.10, 0.10, 0.11), (0.32, 0.21, 0.12), (0.25, 0.25, 0.26))
BRIGHT_SHOES = ((0.92, 0.92, 0.90), (0.85, 0.80, 0.68))


def make_duke_identity(pid: int, attrs: dict[str, int], rng: np.random.Generator) -> Identity:
    """Person ``pid`` with DukeMTMC-reID attributes (its coding): what Duke annotates is drawn as annotated
    (boots, dark or bright shoes, a long coat, its colour sets, hat and bags); what it does not annotate
    varies from person to person: hair length (long for most women), sleeve length, always trousers, adult."""
    from .attributes import DUKE_DOWN_COLOURS, DUKE_UP_COLOURS

    female = attrs.get("gender") == 1
    drawn = {"age": 2, "hair": int(rng.random() < (0.8 if female else 0.05)), "up": int(rng.random() < 0.3),
             "down": 0, "clothes": 1, "coat": attrs.get("top", 0)}
    ident = make_identity(pid, {**attrs, **drawn}, rng, colours=(DUKE_UP_COLOURS, DUKE_DOWN_COLOURS))
    shoes = BRIGHT_SHOES if attrs.get("shoes") == 1 else DARK_SHOES
    return replace(ident, shoe_rgb=_jitter_colour(shoes[int(rng.integers(len(shoes)))], rng, 0.04))


def make_cameras(num_cameras: int, rng: np.random.Generator) -> list[Camera]:
    """Draw ``num_cameras`` distinct imaging conditions."""
    cameras = []
    for camid in range(1, num_cameras + 1):
        back_bias = rng.uniform(0.5, 2.0)
        side_bias = rng.uniform(0.5, 1.5)
        weights = np.array([1.0 / back_bias, back_bias, side_bias, side_bias])
        cameras.append(Camera(
            camid=camid,
            gain=np.clip(1 + rng.normal(0, 0.09, 3), 0.75, 1.25).astype(np.float32),
            brightness=float(rng.uniform(0.7, 1.15)),
            contrast=float(rng.uniform(0.75, 1.2)),
            saturation=float(rng.uniform(0.6, 1.1)),
            background=rng.uniform(0.25, 0.75, 3).astype(np.float32),
            ground=rng.uniform(0.2, 0.6, 3).astype(np.float32),
            scale=float(rng.uniform(0.88, 1.05)),
            blur=int(rng.integers(0, 2)),
            noise=float(rng.uniform(0.01, 0.04)),
            view_weights=weights / weights.sum(),
        ))
    return cameras


# ----------------------------------------------------------------------- drawing primitives

_YY, _XX = np.mgrid[0:HEIGHT, 0:WIDTH].astype(np.float32)
_FRAME = (slice(0, HEIGHT), slice(0, WIDTH))
Window = tuple[slice, slice]


# Each shape is drawn in a window of the frame: the rows and columns its soft edge can reach. Outside it the
# shape's alpha is 0, which leaves a pixel as it was, so the image is the one a whole-frame pass gives, at a
# fraction of the cost (tests/test_synthetic.py holds each shape against its whole-frame drawing).
def _window(top: float, bottom: float, left: float, right: float) -> Window | None:
    """The frame's rows and columns that hold every pixel from ``top`` to ``bottom`` and ``left`` to ``right``,
    with a pixel to spare; None when none is in the frame."""
    if not all(map(math.isfinite, (top, bottom, left, right))):
        return _FRAME
    rows = slice(max(0, math.floor(top) - 1), min(HEIGHT, math.ceil(bottom) + 2))
    cols = slice(max(0, math.floor(left) - 1), min(WIDTH, math.ceil(right) + 2))
    return (rows, cols) if rows.start < rows.stop and cols.start < cols.stop else None


def _blend(img: np.ndarray, alpha: np.ndarray, colour: np.ndarray | tuple[float, ...], window: Window = _FRAME) -> None:
    """Blend ``colour`` (a colour, or an image of the window's size) into ``img[window]`` with ``alpha``."""
    a = alpha[..., None]
    part = img[window]
    part *= 1 - a
    part += a * np.asarray(colour, dtype=np.float32)


def ellipse(img: np.ndarray, cy: float, cx: float, ry: float, rx: float, colour,
            keep: np.ndarray | None = None) -> None:
    """Fill an ellipse with a one-pixel soft edge (``keep`` masks the part that is drawn)."""
    ry, rx = max(ry, 0.5), max(rx, 0.5)
    reach = 1 + 0.5 / min(ry, rx)     # alpha > 0 only where d < reach
    window = _window(cy - ry * reach, cy + ry * reach, cx - rx * reach, cx + rx * reach)
    if window is None:
        return
    d = np.sqrt(((_YY[window] - cy) / ry) ** 2 + ((_XX[window] - cx) / rx) ** 2)
    alpha = np.clip((1 - d) * min(ry, rx) + 0.5, 0, 1)
    if keep is not None:
        alpha = alpha * keep[window]
    _blend(img, alpha, colour, window)


def _polygon_window(points: list[tuple[float, float]]) -> Window | None:
    """Where :func:`polygon`'s alpha can be above 0: within half a pixel of every edge's inner side, the polygon
    grown by 0.5 / sin(angle / 2) at its sharpest corner. The whole frame for a shape that is not a clockwise convex
    polygon with edges of some length (the growth would not bound it)."""
    pts = np.asarray(points, dtype=np.float64)
    edges = np.roll(pts, -1, axis=0) - pts
    lengths = np.hypot(edges[:, 0], edges[:, 1])
    turns = edges[:, 0] * np.roll(edges, -1, axis=0)[:, 1] - edges[:, 1] * np.roll(edges, -1, axis=0)[:, 0]
    if len(pts) < 3 or not (lengths > 0).all() or not (turns < 0).all():   # clockwise: every turn negative
        return _FRAME
    outgoing, incoming = edges / lengths[:, None], np.roll(edges / lengths[:, None], 1, axis=0)
    angles = np.arccos(np.clip(-(outgoing * incoming).sum(1), -1, 1))     # interior angle at each corner
    if angles.min() < 1e-3:
        return _FRAME
    grow = 0.5 / math.sin(angles.min() / 2)
    return _window(pts[:, 0].min() - grow, pts[:, 0].max() + grow, pts[:, 1].min() - grow, pts[:, 1].max() + grow)


def polygon(img: np.ndarray, points: list[tuple[float, float]], colour, texture: np.ndarray | None = None) -> None:
    """Fill a convex polygon given as (y, x) points in clockwise screen order."""
    window = _polygon_window(points)
    if window is None:
        return
    yy, xx = _YY[window], _XX[window]
    sd = np.full(yy.shape, np.inf, dtype=np.float32)
    n = len(points)
    for i in range(n):
        (y0, x0), (y1, x1) = points[i], points[(i + 1) % n]
        ny, nx = (x1 - x0), -(y1 - y0)  # inward normal for clockwise order in (y down) screen space
        norm = np.hypot(ny, nx) or 1.0
        sd = np.minimum(sd, ((yy - y0) * ny + (xx - x0) * nx) / norm)
    alpha = np.clip(sd + 0.5, 0, 1)
    _blend(img, alpha, colour if texture is None else texture[window], window)


def segment(img: np.ndarray, p0: tuple[float, float], p1: tuple[float, float], width: float, colour) -> None:
    """Draw a thick line from p0 to p1 ((y, x) points) with round caps."""
    (y0, x0), (y1, x1) = p0, p1
    reach = width / 2 + 0.5          # alpha > 0 only closer to the line than this
    window = _window(min(y0, y1) - reach, max(y0, y1) + reach, min(x0, x1) - reach, max(x0, x1) + reach)
    if window is None:
        return
    yy, xx = _YY[window], _XX[window]
    dy, dx = y1 - y0, x1 - x0
    length2 = dy * dy + dx * dx or 1.0
    t = np.clip(((yy - y0) * dy + (xx - x0) * dx) / length2, 0, 1)
    dist = np.hypot(yy - (y0 + t * dy), xx - (x0 + t * dx))
    _blend(img, np.clip(width / 2 - dist + 0.5, 0, 1), colour, window)


def box_blur(img: np.ndarray, radius: int) -> np.ndarray:
    """Separable box blur of a (H, W, 3) image, edges clamped."""
    if radius <= 0:
        return img
    k = 2 * radius + 1
    out = img
    for axis in (0, 1):
        pad = [(0, 0)] * 3
        pad[axis] = (radius + 1, radius)
        c = np.cumsum(np.pad(out, pad, mode="edge"), axis=axis)
        hi = np.take(c, range(k, c.shape[axis]), axis=axis)
        lo = np.take(c, range(0, c.shape[axis] - k), axis=axis)
        out = (hi - lo) / k
    return out


# ----------------------------------------------------------------------------- the scene

def _background(camera: Camera, rng: np.random.Generator) -> np.ndarray:
    wall = camera.background * rng.uniform(0.85, 1.15)
    horizon = rng.uniform(0.55, 0.8) * HEIGHT
    shade = (0.85 + 0.3 * (_YY / HEIGHT))[..., None]
    img = np.where((_YY < horizon)[..., None], wall * shade, camera.ground * rng.uniform(0.85, 1.15) * shade)
    img = img.astype(np.float32)
    for _ in range(int(rng.integers(2, 7))):  # clutter: windows, signs, poles, bins
        y0, x0 = rng.uniform(-10, HEIGHT), rng.uniform(-10, WIDTH)
        h, w = rng.uniform(4, 40), rng.uniform(2, 25)
        colour = np.clip(wall + rng.normal(0, 0.25, 3), 0, 1)
        polygon(img, [(y0, x0), (y0, x0 + w), (y0 + h, x0 + w), (y0 + h, x0)], colour)
    return img


def _pack(img: np.ndarray, top: float, bottom: float, left: float, right: float, colour: np.ndarray) -> None:
    """A bag seen flat: a dark rim, the body in ``colour``, and a lighter flap across its top third."""
    colour = np.asarray(colour, dtype=np.float32)
    rim = min(1.6, (right - left) / 4, (bottom - top) / 4)
    polygon(img, [(top, left), (top, right), (bottom, right), (bottom, left)], colour * 0.3)
    polygon(img, [(top + rim, left + rim), (top + rim, right - rim), (bottom - rim, right - rim),
                  (bottom - rim, left + rim)], colour)
    flap = top + (bottom - top) * 0.35
    polygon(img, [(top + rim, left + rim), (top + rim, right - rim), (flap, right - rim), (flap, left + rim)],
            np.clip(colour * 0.7 + 0.18, 0, 1))


def _torso_texture(ident: Identity, view: str, top: float, cx: float) -> np.ndarray:
    base = np.broadcast_to(ident.upper_rgb, (HEIGHT, WIDTH, 3)).astype(np.float32)
    second = ident.upper_rgb2
    if ident.pattern == "stripes":
        on = (np.sin((_YY - top) * 2 * np.pi / ident.pattern_period) > 0.3)[..., None]
        return np.where(on, second, base).astype(np.float32)
    if ident.pattern == "checks":
        p = ident.pattern_period * 1.4
        on = ((np.floor((_YY - top) / p) + np.floor((_XX - cx) / p)) % 2 == 0)[..., None]
        return np.where(on, 0.7 * base + 0.3 * second, base).astype(np.float32)
    if ident.pattern == "two-tone":
        on = (_XX > cx)[..., None] if view in ("front", "back") else (_YY > top + 10)[..., None]
        return np.where(on, second, base).astype(np.float32)
    return base.copy()


def render(ident: Identity, camera: Camera, rng: np.random.Generator, *, partial: bool = False,
           view: str | None = None) -> np.ndarray:
    """Draw one image of ``ident`` seen by ``camera``; returns uint8 of shape (128, 64, 3).

    ``partial`` shifts and enlarges the person so that only part of them is in the box, the
    way Market-1501's junk detections cut people off. ``view`` forces a viewpoint (one of
    :data:`VIEWS`); by default it is drawn from the camera's preferences.
    """
    a = ident.attrs
    drawn = str(rng.choice(VIEWS, p=camera.view_weights))
    view = drawn if view is None else view
    if view not in VIEWS:
        raise ValueError(f"view must be one of {VIEWS}, got {view!r}")
    side = view in ("left", "right")
    facing = 1 if view == "right" else -1  # direction a side view faces (x)
    img = _background(camera, rng)

    scale = ident.height * camera.scale * rng.uniform(0.93, 1.06)
    if partial:
        scale *= rng.uniform(1.2, 1.7)
    H = HEIGHT * scale                                   # person height in pixels
    feet = HEIGHT - rng.uniform(2, 7) + (rng.uniform(20, 50) if partial else 0)
    cx = WIDTH / 2 + rng.normal(0, 2.5) + (rng.choice([-1, 1]) * rng.uniform(12, 24) if partial else 0)
    top = feet - H
    y = lambda f: top + f * H                          # noqa: E731  fraction of height -> row
    female = a.get("gender") == 1
    child = a.get("age") == 0
    head_r = H * (0.085 if child else 0.062)
    width = H * ident.build * (0.6 if side else 1.0)
    sh = width * (0.095 if female else 0.115)           # shoulder half-width
    hip = width * (0.095 if female else 0.085)
    neck_y, waist_y, crotch_y, knee_y, ankle_y = y(0.15), y(0.46), y(0.52), y(0.74), y(0.955)
    head_cy = top + head_r * 1.05
    stoop = facing * H * 0.025 if (a.get("age") == 3 and side) else 0.0
    step = rng.uniform(-1, 1) * width * (0.09 if side else 0.03)  # walking phase

    # Behind the body: backpack seen from the side or peeking over the shoulders from the front, long hair.
    if a.get("backpack") == 1 and side:
        bx = cx - facing * sh * 1.35
        _pack(img, y(0.16), y(0.46), bx - sh * 0.7, bx + sh * 0.7, ident.bag_rgb)
    if a.get("backpack") == 1 and view == "front":
        _pack(img, y(0.085), y(0.3), cx - sh * 1.05, cx + sh * 1.05, ident.bag_rgb)

    # Legs and shoes.
    leg_w = width * 0.04
    dress = a.get("clothes") == 0
    short_lower = a.get("down") == 1
    for s in (-1, 1):
        lx = cx + s * hip * 0.45 + (s * step if not side else s * step)
        segment(img, (crotch_y, cx + s * hip * 0.4), (ankle_y, lx), leg_w * 2, ident.skin_rgb)
        if not dress:
            end = knee_y if short_lower else ankle_y
            t = (end - crotch_y) / (ankle_y - crotch_y)
            segment(img, (crotch_y - 2, cx + s * hip * 0.4), (end, cx + s * hip * 0.4 + t * (lx - cx - s * hip * 0.4)),
                    leg_w * 2.3, ident.lower_rgb)
        ellipse(img, ankle_y + H * 0.02, lx + (facing * leg_w * 0.8 if side else 0), H * 0.022, leg_w * 1.4,
                ident.shoe_rgb)
        if a.get("boots") == 1:   # DukeMTMC-reID: boots reach up the shin
            t = (y(0.84) - crotch_y) / (ankle_y - crotch_y)          # how far down the leg the boot starts
            x0 = cx + s * hip * 0.4
            segment(img, (y(0.84), x0 + t * (lx - x0)), (ankle_y + H * 0.015, lx), leg_w * 2.7, ident.shoe_rgb)

    # Lower garment: trousers' seat or a dress.
    if dress:
        hem = y(0.70) if short_lower else y(0.90)
        flare = hip * (1.6 if short_lower else 1.9)
        polygon(img, [(waist_y, cx - hip), (waist_y, cx + hip), (hem, cx + flare), (hem, cx - flare)], ident.lower_rgb)
    else:
        polygon(img, [(waist_y, cx - hip), (waist_y, cx + hip), (crotch_y + 2, cx + hip), (crotch_y + 2, cx - hip)],
                ident.lower_rgb)

    # Arms behind the torso on the far side (side views show one arm in front).
    short_sleeve = a.get("up") == 1
    arm_w = width * 0.027

    def arm(sx: float, swing: float) -> None:
        shoulder = (y(0.17), cx + sx)
        hand = (y(0.47), cx + sx * 1.15 + swing)
        elbow = (y(0.31), cx + sx * 1.1 + swing * 0.5)
        segment(img, shoulder, hand, arm_w * 2, ident.skin_rgb)
        sleeve_end = elbow if short_sleeve else (hand[0] - arm_w, hand[1])
        segment(img, shoulder, sleeve_end, arm_w * 2.4, ident.upper_rgb)

    if side:
        arm(-facing * sh * 0.2, -step)
    # Torso with its pattern.
    tex = _torso_texture(ident, view, y(0.15), cx)
    polygon(img,
            [(neck_y, cx - sh), (neck_y, cx + sh), (waist_y + 1, cx + hip * 1.05), (waist_y + 1, cx - hip * 1.05)],
            None, tex)
    if a.get("coat") == 1:    # DukeMTMC-reID's long upper-body clothing: a coat down to the knees
        polygon(img, [(waist_y, cx - hip * 1.05), (waist_y, cx + hip * 1.05), (y(0.75), cx + hip * 1.4),
                      (y(0.75), cx - hip * 1.4)], ident.upper_rgb)
    if ident.pattern == "logo" and view == "front":
        polygon(img,
                [(y(0.22), cx - sh * 0.35), (y(0.22), cx + sh * 0.35), (y(0.3), cx + sh * 0.35),
                 (y(0.3), cx - sh * 0.35)], ident.upper_rgb2)
    if side:
        arm(facing * sh * 0.2, step)
    else:
        arm(-sh, -step * 0.5)
        arm(sh, step * 0.5)

    # Bags on the body. A bag is drawn as an object, with a dark rim and a flap, so that it does not read as
    # another colour of the clothes; its straps are two pixels wide at the book's input size.
    strap = max(2.0, arm_w * 1.6)
    if a.get("backpack") == 1 and view == "back":
        _pack(img, y(0.16), y(0.47), cx - sh * 0.8, cx + sh * 0.8, ident.bag_rgb)
    if a.get("backpack") == 1 and view == "front":
        for s in (-1, 1):
            segment(img, (neck_y, cx + s * sh * 0.5), (y(0.38), cx + s * sh * 0.62), strap, ident.bag_rgb * 0.6)
            polygon(img, [(y(0.19), cx + s * sh * 1.02 - 0.5), (y(0.19), cx + s * sh * 1.02 + 0.5),
                          (y(0.41), cx + s * sh * 1.02 + 0.5), (y(0.41), cx + s * sh * 1.02 - 0.5)], ident.bag_rgb)
    if a.get("bag") == 1:  # messenger bag: strap across the chest, bag on the hip
        hip_side = ident.bag_side if view != "back" else -ident.bag_side
        if not side:
            segment(img, (neck_y, cx - hip_side * sh * 0.75), (y(0.44), cx + hip_side * hip), strap,
                    ident.bag_rgb * 0.8)
        bx = cx + (hip_side * hip * 1.25 if not side else -facing * hip * 0.3)
        _pack(img, y(0.41), y(0.57), bx - hip * 0.85, bx + hip * 0.85, ident.bag_rgb * 0.9)
    if a.get("handbag") == 1:
        hand_side = ident.bag_side if view != "back" else -ident.bag_side
        visible = not side or (hand_side == facing) or rng.random() < 0.3
        if visible:
            hx = cx + (hand_side * sh * 1.2 if not side else facing * sh * 0.3)
            polygon(img,
                    [(y(0.47), hx - width * 0.05), (y(0.47), hx + width * 0.05), (y(0.56), hx + width * 0.06),
                     (y(0.56), hx - width * 0.06)], ident.bag_rgb)

    # Head, hair, hat.
    hcx = cx + stoop + (facing * head_r * 0.15 if side else 0)
    long_hair = a.get("hair") == 1
    if long_hair and view != "front":
        polygon(img,
                [(head_cy, hcx - head_r * 0.95), (head_cy, hcx + head_r * 0.95), (y(0.24), hcx + head_r * 0.9),
                 (y(0.24), hcx - head_r * 0.9)], ident.hair_rgb)
    segment(img, (head_cy, hcx), (neck_y + 1, cx), head_r * 0.8, ident.skin_rgb)
    ellipse(img, head_cy, hcx, head_r, head_r * 0.82, ident.skin_rgb)
    if view == "back":
        ellipse(img, head_cy - head_r * 0.05, hcx, head_r * 1.02, head_r * 0.85, ident.hair_rgb)
    else:
        cap = (_YY < head_cy - head_r * 0.25).astype(np.float32)
        ellipse(img, head_cy - head_r * 0.1, hcx - (facing * head_r * 0.2 if side else 0), head_r * 1.05,
                head_r * 0.88, ident.hair_rgb, keep=cap)
        if long_hair:  # strands framing the face
            for s in ((-1, 1) if not side else (-facing,)):
                segment(img, (head_cy - head_r * 0.3, hcx + s * head_r * 0.75), (y(0.2), hcx + s * head_r * 0.8),
                        head_r * 0.45, ident.hair_rgb)
    if a.get("hat") == 1:
        crown = (_YY < head_cy - head_r * 0.15).astype(np.float32)
        ellipse(img, head_cy - head_r * 0.2, hcx, head_r * 1.12, head_r * 0.95, ident.hat_rgb, keep=crown)
        segment(img, (head_cy - head_r * 0.2, hcx - head_r * 1.1), (head_cy - head_r * 0.2, hcx + head_r * 1.1),
                max(1.0, head_r * 0.3), ident.hat_rgb * 0.85)

    # Occluders in front of the person: a passer-by's arm, a bin, a car bonnet.
    if rng.random() < 0.15:
        oh = rng.uniform(0.12, 0.35) * HEIGHT
        from_left = rng.random() < 0.5
        ow = rng.uniform(0.25, 0.6) * WIDTH
        x0 = 0 if from_left else WIDTH - ow
        y0 = HEIGHT - oh if rng.random() < 0.7 else rng.uniform(0, HEIGHT - oh)
        polygon(img, [(y0, x0), (y0, x0 + ow), (y0 + oh, x0 + ow), (y0 + oh, x0)], rng.uniform(0.05, 0.9, 3))

    return _photograph(img, camera, rng)


def render_background(camera: Camera, rng: np.random.Generator) -> np.ndarray:
    """A box with no person in it, as Market-1501's distractor detections often are."""
    return _photograph(_background(camera, rng), camera, rng)


def _photograph(img: np.ndarray, camera: Camera, rng: np.random.Generator) -> np.ndarray:
    """Apply the camera: colour cast, saturation, contrast, brightness, blur, sensor noise."""
    img = img * camera.gain
    grey = img.mean(axis=2, keepdims=True)
    img = grey + (img - grey) * camera.saturation
    img = (img - 0.5) * camera.contrast + 0.5
    img = img * camera.brightness * rng.uniform(0.9, 1.1)
    img = box_blur(img, camera.blur + int(rng.random() < 0.15))
    img = img + rng.normal(0, camera.noise, img.shape)
    return (np.clip(img, 0, 1) * 255 + 0.5).astype(np.uint8)
