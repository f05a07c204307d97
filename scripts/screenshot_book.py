"""Screenshot every page of the built book with headless Chromium (Debian's ``chromium``).

    .venv/bin/python scripts/screenshot_book.py [--html _build/html] [--out _build/screenshots] [--width 640]

Each page is rendered at 1400 px wide (full height up to ``--height``), then scaled to
``--width`` pixels for a light PNG. Needs ``/usr/bin/chromium`` (``apt-get install chromium``).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import tempfile
from pathlib import Path

from PIL import Image

from apr.data.paths import REPO_ROOT

PAGES = ["intro", "_generated/claims", "_generated/00_data", "_generated/01_attributes", "_generated/02_baselines",
         "_generated/03_state_of_the_art", "_generated/04_ablations", "_generated/05_acceleration", "reproduce",
         "_generated/status", "errata"]


FOOTER_PX = 90      # the footer's height at 1400 px wide, with its top rule


def screenshot(chromium: str, page: Path, out: Path, height: int, width: int) -> Path:
    """One page -> ``out`` (PNG scaled to ``width``)."""
    with tempfile.TemporaryDirectory() as tmp:
        raw = Path(tmp) / "page.png"
        subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                        f"--window-size=1400,{height}", f"--screenshot={raw}", page.as_uri()],
                       check=True, capture_output=True, timeout=120)
        image = Image.open(raw).convert("RGB")
        # crop the empty space below the page's end (looking at the content column only: the sidebar's
        # border runs the whole height). The footer ("By apr-book") sits at the window's bottom edge on a page
        # shorter than the window: it is left out, and the last content above it sets the bottom. A page that
        # fills the window is cut there (raise --height).
        gray = image.convert("L").crop((320, 0, 1000, image.height))
        footer = image.height - FOOTER_PX
        rows = [y for y in range(footer, 0, -8) if gray.crop((0, y, gray.width, y + 1)).getextrema()[0] < 200]
        bottom = min(image.height, (rows[0] + 40) if rows else image.height)
        image = image.crop((0, 0, 1400, bottom))
        image.thumbnail((width, 100_000))
        # octree quantising keeps the figures' saturated colours (an adaptive palette turned them grey)
        image.quantize(colors=128, method=Image.Quantize.FASTOCTREE).save(out, optimize=True)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--html", default=str(REPO_ROOT / "_build" / "html"))
    parser.add_argument("--out", default=str(REPO_ROOT / "_build" / "screenshots"))
    parser.add_argument("--height", type=int, default=9000)
    parser.add_argument("--width", type=int, default=640)
    args = parser.parse_args()
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        raise SystemExit("chromium not found: install Debian's chromium package (apt-get install chromium)")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for name in PAGES:
        page = Path(args.html) / "book" / f"{name}.html"
        if not page.is_file():
            raise SystemExit(f"{page} not found: build the book first (make book)")
        path = screenshot(chromium, page, out / f"{Path(name).name}.png", args.height, args.width)
        print(path, flush=True)


if __name__ == "__main__":
    main()
