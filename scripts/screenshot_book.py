"""Screenshot every page of the built book with headless Chromium (Debian's ``chromium``).

    .venv/bin/python scripts/screenshot_book.py [--html _build/html] [--out _build/screenshots] [--width 640]
        [--viewport 1400]

Each page is rendered in a window ``--viewport`` px wide (1400: a desktop; 390: a phone; full height up to
``--height``), then scaled to ``--width`` pixels for a light PNG. Needs ``/usr/bin/chromium``
(``apt-get install chromium``).
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
         "_generated/03_state_of_the_art", "_generated/04_ablations", "_generated/05_acceleration", "reproduce", "gpu",
         "using", "_generated/status", "errata"]


FOOTER_PX = 90      # the footer's height at 1400 px wide, with its top rule


def screenshot(chromium: str, page: Path, out: Path, height: int, width: int, viewport: int = 1400) -> Path:
    """One page -> ``out`` (PNG scaled to ``width``)."""
    with tempfile.TemporaryDirectory() as tmp:
        raw = Path(tmp) / "page.png"
        subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                        f"--window-size={viewport},{height}", f"--screenshot={raw}", page.as_uri()],
                       check=True, capture_output=True, timeout=120)
        image = Image.open(raw).convert("RGB")
        # crop the empty space below the page's end (looking at the content column only: the sidebar's
        # border runs the whole height). The footer ("By apr-book") sits at the window's bottom edge on a page
        # shorter than the window: it is left out, and the last content above it sets the bottom. A page that
        # fills the window is cut there (raise --height).
        column = (320, 1000) if viewport >= 1200 else (0, viewport)    # a phone shows no sidebar
        gray = image.convert("L").crop((column[0], 0, column[1], image.height))
        footer = image.height - FOOTER_PX
        rows = [y for y in range(footer, 0, -8) if gray.crop((0, y, gray.width, y + 1)).getextrema()[0] < 200]
        bottom = min(image.height, (rows[0] + 40) if rows else image.height)
        image = image.crop((0, 0, viewport, bottom))
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
    parser.add_argument("--viewport", type=int, default=1400, help="window width in px (390: a phone)")
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
        path = screenshot(chromium, page, out / f"{Path(name).name}.png", args.height, min(args.width, args.viewport),
                          args.viewport)
        print(path, flush=True)


if __name__ == "__main__":
    main()
