"""One writer per run folder: a claim file that names its holder, kept fresh while the holder lives.

Two trainings of one folder would overwrite each other's checkpoint and model, and each would report its own
metrics as if it were the one kept. So a process that trains or evaluates into a folder first claims it: it creates
``.claim.json`` whole, holding its host, process id and start time (written under a temporary name and hard-linked
into place, which fails if the claim exists: atomic on local disks and on NFS), and a daemon thread touches the
file every ``HEARTBEAT_SECONDS`` while the claim is held. A second process finds the claim and either refuses
(``apr train --out``) or waits its turn (the store of trained runs).

A claim is *stale*, and is broken, when its holder is known dead: a process of this host that no longer runs, or,
for another host whose processes cannot be seen from here, a claim whose heartbeat is older than
``STALE_SECONDS``. Breaking takes a second exclusive file, so two processes that find one stale claim at the same
moment cannot both take the folder.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from ..data.files import TEMPORARY_SUFFIX, host_name, pid_alive

CLAIM_FILE = ".claim.json"
BREAK_FILE = ".claim.break"
HEARTBEAT_SECONDS = 30.0
# Another host's claim counts as abandoned after this long without a heartbeat: ten missed beats.
STALE_SECONDS = 300.0
POLL_SECONDS = 1.0

# The folders this process holds and how deeply, so that a holder's own nested claim (fit inside the store's
# claim) is free. Keyed by pid too: a forked child inherits the dict but not the claims.
_held: dict[tuple[int, Path], int] = {}
_held_lock = threading.Lock()


class FolderClaimed(RuntimeError):
    """The folder is being written by another live process."""


@dataclass(frozen=True)
class Holder:
    """Who holds a claim, as its file says."""

    host: str
    pid: int
    started: float
    age_s: float        # seconds since the last heartbeat

    def describe(self) -> str:
        """Who holds the claim, for a message: process, host and since when."""
        since = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(self.started))
        return f"process {self.pid} on host '{self.host}' (since {since})"


def read_holder(folder: Path) -> Holder | None:
    """The holder of ``folder``'s claim; None when unclaimed. An unreadable claim file (a holder killed while
    writing its few bytes) reads as a holder that is dead."""
    path = folder / CLAIM_FILE
    try:
        age = time.time() - path.stat().st_mtime
        data = json.loads(path.read_text(encoding="utf-8"))
        return Holder(str(data["host"]), int(data["pid"]), float(data["started"]), age)
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError):
        return Holder("?", -1, 0.0, float("inf"))


def is_stale(holder: Holder) -> bool:
    """Whether a claim's holder is known to have ended (see the module docstring)."""
    if holder.pid < 0:
        return True
    if holder.host == host_name():
        return not pid_alive(holder.pid)
    return holder.age_s > STALE_SECONDS


def _create(path: Path) -> bool:
    """Create the claim file exclusively with this process as holder; False if it exists.

    The file appears whole: it is written under a temporary name and hard-linked into place, which fails when the
    claim exists. Created empty and written after (O_EXCL alone), it could be read empty by a second process in
    between, taken for a dead holder's and broken: two holders (seen with six contenders on a loaded machine)."""
    holder = json.dumps({"host": host_name(), "pid": os.getpid(), "started": time.time()})
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.{host_name()}@{os.getpid()}.",
                               suffix=TEMPORARY_SUFFIX)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(holder)
        try:
            os.link(tmp, path)
            return True
        except FileExistsError:
            return False
        except OSError:        # a filesystem without hard links: create it exclusively, then write it
            return _create_exclusive(path, holder)
    finally:
        Path(tmp).unlink(missing_ok=True)


def _create_exclusive(path: Path, holder: str) -> bool:
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
    except FileExistsError:
        return False
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(holder)
    return True


def _break_stale(folder: Path, seen: Holder) -> None:
    """Remove a stale claim, unless another process is breaking it or it changed since it was read."""
    breaker = folder / BREAK_FILE
    try:
        fd = os.open(breaker, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
    except FileExistsError:
        # A breaker killed in the few instructions below leaves its file: old ones are removed. One that is gone
        # by the time it is looked at was released meanwhile.
        with contextlib.suppress(FileNotFoundError):
            if time.time() - breaker.stat().st_mtime > STALE_SECONDS:
                breaker.unlink(missing_ok=True)
        return
    os.close(fd)
    try:
        now = read_holder(folder)
        if now is not None and (now.host, now.pid, now.started) == (seen.host, seen.pid, seen.started):
            (folder / CLAIM_FILE).unlink(missing_ok=True)
    finally:
        breaker.unlink(missing_ok=True)


def _heartbeat(path: Path, stop: threading.Event, every: float) -> None:
    while not stop.wait(every):
        try:
            os.utime(path)
        except OSError:     # the folder was removed under the holder; nothing left to keep fresh
            return


@contextmanager
def claim_folder(folder: str | Path, *, wait: bool = False,
                 on_wait: Callable[[Holder], None] | None = None) -> Iterator[None]:
    """Hold ``folder`` (created if missing) for this process while the ``with`` block runs.

    A live holder elsewhere makes it raise :class:`FolderClaimed` naming the folder and the holder, or, with
    ``wait=True``, wait until that holder lets go (``on_wait(holder)`` is called once, when the wait starts). Nested
    claims of one folder by one process are free.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    if (folder / CLAIM_FILE).is_dir() and not (folder / CLAIM_FILE).is_symlink():
        raise FolderClaimed(f"'{folder / CLAIM_FILE}' is a folder, not a claim file; remove it to use '{folder}'")
    key = (os.getpid(), folder.resolve())
    with _held_lock:
        if key in _held:
            _held[key] += 1
            nested = True
        else:
            nested = False
    if nested:
        try:
            yield
        finally:
            with _held_lock:
                _held[key] -= 1
        return
    path = folder / CLAIM_FILE
    told = False
    while not _create(path):
        holder = read_holder(folder)
        if holder is None:
            continue                      # released between our attempt and the read: try again
        if is_stale(holder):
            _break_stale(folder, holder)
            continue
        if not wait:
            raise FolderClaimed(f"'{folder}' is being written by {holder.describe()}; wait for it to finish or "
                                "use another folder")
        if not told and on_wait is not None:
            on_wait(holder)
        told = True
        time.sleep(POLL_SECONDS)
    with _held_lock:
        _held[key] = 1
    stop = threading.Event()
    beat = threading.Thread(target=_heartbeat, args=(path, stop, HEARTBEAT_SECONDS), daemon=True,
                            name=f"claim {folder.name}")
    beat.start()
    try:
        yield
    finally:
        stop.set()
        beat.join()
        with _held_lock:
            del _held[key]
        holder = read_holder(folder)
        if holder is not None and (holder.host, holder.pid) == (host_name(), os.getpid()):
            path.unlink(missing_ok=True)
