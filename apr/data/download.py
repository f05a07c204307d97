"""Fetch the three public attribute files, checking their sha256.

Only this module touches the network, and only when called; nothing in the tests needs it.
"""

from __future__ import annotations

import hashlib
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class RemoteFile:
    """A published file: where to fetch it, where it goes under the data root, its hash."""

    url: str
    relative_path: str
    sha256: str


ANNOTATION_DOWNLOADS = {
    "market_attribute": RemoteFile(
        "https://raw.githubusercontent.com/vana77/Market-1501_Attribute/master/market_attribute.mat",
        "market1501/market_attribute.mat",
        "d9fdbdd2e33ed2c4e3a073b77b1d16ac9fae5d93dd597ccd4e38bf75b2efaa95",
    ),
    "gallery_market": RemoteFile(
        "https://raw.githubusercontent.com/vana77/Market-1501_Attribute/master/gallery_market.mat",
        "market1501/gallery_market.mat",
        "393a9c991f7586a3e265702ab35f5c05941bb6110fd67dfff853ebc81185c7aa",
    ),
    "duke_attribute": RemoteFile(
        "https://raw.githubusercontent.com/vana77/DukeMTMC-attribute/master/duke_attribute.mat",
        "dukemtmc-reid/duke_attribute.mat",
        "06b9833be1c6339362ccf2112a8cf885c7c64db8f038da9e12896f86bec51e8c",
    ),
}


def sha256_of(path: Path) -> str:
    """Hex sha256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _copy_before(response, out, deadline: float, url: str) -> None:
    """Copy ``response`` to ``out`` in blocks, giving up at ``deadline`` (time.monotonic()): the socket's timeout
    bounds each read only, and a server that trickles a byte per read would otherwise never time out."""
    read = getattr(response, "read1", response.read)   # read1: what has arrived, so no read waits for a full block
    while block := read(1 << 16):
        out.write(block)
        if time.monotonic() > deadline:
            raise TimeoutError(f"{url} did not finish within its total deadline")


def fetch(remote: RemoteFile, dest_root: str | Path, timeout: float = 60.0, deadline_s: float = 600.0) -> Path:
    """Download ``remote`` under ``dest_root`` unless a file with the right hash is there.

    The download goes to a temporary file first and is moved into place only when its
    sha256 matches, so an interrupted or tampered download never looks complete. ``timeout`` bounds each
    network read, ``deadline_s`` the whole download.
    """
    if not (timeout > 0 and deadline_s > 0):
        raise ValueError(f"timeout={timeout!r}, deadline_s={deadline_s!r}: expected seconds above 0")
    target = Path(dest_root) / remote.relative_path
    if target.is_file() and sha256_of(target) == remote.sha256:
        return target
    created = [p for p in reversed(target.parents) if not p.exists()]   # folders to remove again on failure
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        with tempfile.NamedTemporaryFile(dir=target.parent, delete=False, suffix=".part") as tmp:
            tmp_path = Path(tmp.name)
            try:
                deadline = time.monotonic() + deadline_s
                with urllib.request.urlopen(remote.url, timeout=min(timeout, deadline_s)) as response:
                    _copy_before(response, tmp, deadline, remote.url)
            except Exception as exc:
                tmp_path.unlink(missing_ok=True)
                raise OSError(f"could not download {remote.url} to '{target}': {exc}") from None
        got = sha256_of(tmp_path)
        if got != remote.sha256:
            tmp_path.unlink(missing_ok=True)
            raise ValueError(f"sha256 mismatch for {remote.url}: expected {remote.sha256}, got {got}")
    except BaseException:
        for folder in reversed(created):      # leave no empty folder behind
            if folder.is_dir() and not any(folder.iterdir()):
                folder.rmdir()
        raise
    tmp_path.replace(target)
    return target


def download_annotations(dest_root: str | Path, names: list[str] | None = None) -> list[Path]:
    """Fetch the published attribute files (default: all three) into ``dest_root``."""
    names = list(ANNOTATION_DOWNLOADS) if names is None else names
    unknown = set(names) - set(ANNOTATION_DOWNLOADS)
    if unknown:
        raise ValueError(f"unknown annotation file(s) {sorted(unknown)}; known: {sorted(ANNOTATION_DOWNLOADS)}")
    return [fetch(ANNOTATION_DOWNLOADS[n], dest_root) for n in names]
