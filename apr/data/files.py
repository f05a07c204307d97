"""Files written whole or not at all, and the leftovers of writers that died: :func:`atomic_write_bytes`,
:func:`save_json` (strict JSON), :func:`remove_dead_temporaries`, and the host and process names they rest on.
Imports nothing heavy (no torch), so that every layer, the book's pages included, can write files with it."""

from __future__ import annotations

import errno
import json
import math
import os
import shutil
import socket
import tempfile
import time
from pathlib import Path
from typing import Any

TEMPORARY_SUFFIX = ".tmp"
HOST_ENV = "APR_HOST"             # this machine's name in claims and temporary files (tests pretend to be two hosts)
# A temporary file of another host is removed only once it is this old: its writer's liveness cannot be seen.
FOREIGN_TEMPORARY_SECONDS = 6 * 3600


def host_name() -> str:
    """This machine's name (``$APR_HOST`` overrides it), with the characters a file name cannot hold replaced."""
    name = os.environ.get(HOST_ENV) or socket.gethostname() or "host"
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in name)


def _disk_full(path: Path, exc: BaseException) -> bool:
    if isinstance(exc, OSError) and exc.errno == errno.ENOSPC:
        return True
    try:                                    # torch's writer reports a full disk as "unexpected pos ..."
        return shutil.disk_usage(path.parent).free < (1 << 20)
    except OSError:
        return False


def atomic_write_bytes(path: Path, write: Any) -> None:
    """Call ``write(file_object)`` on a temporary file beside ``path``, then rename it into place.

    A reader (or a resumed run after ``kill -9``) sees the old file or the new one, never half. A write that fails
    says which file it was; on a full disk, that the disk is full.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    # The writer's host and pid are in the name, so that a later run can tell a dead writer's leftover.
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.{host_name()}@{os.getpid()}.",
                               suffix=TEMPORARY_SUFFIX)
    try:
        with os.fdopen(fd, "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(exc, Exception) and _disk_full(path, exc):
            raise OSError(errno.ENOSPC, f"could not write '{path}': no space left on its disk") from None
        raise


def _writer(tmp: Path) -> tuple[str | None, int | None]:
    """(host, pid) of a temporary file's writer, from its name; (None, pid) for names without a host."""
    parts = tmp.name.split(".")        # "", name..., [host@]pid, random, "tmp"
    if len(parts) < 4:
        return None, None
    host, _, pid = parts[-3].rpartition("@")
    return (host or None, int(pid)) if pid.isdigit() else (None, None)


def remove_dead_temporaries(folder: Path) -> list[Path]:
    """Delete the temporary files of :func:`atomic_write_bytes` in ``folder`` whose writer is no longer alive
    (killed by a signal before it could clean up): a writer of this host that has ended, or a file of another host
    older than :data:`FOREIGN_TEMPORARY_SECONDS`; returns what it deleted."""
    removed = []
    here = host_name()
    for tmp in folder.glob(f".*{TEMPORARY_SUFFIX}") if folder.is_dir() else []:
        host, pid = _writer(tmp)
        if host is not None and host != here:
            try:
                dead = time.time() - tmp.stat().st_mtime > FOREIGN_TEMPORARY_SECONDS
            except FileNotFoundError:
                continue
        else:
            dead = pid is None or not pid_alive(pid)
        if dead:
            tmp.unlink(missing_ok=True)
            removed.append(tmp)
    return removed


def pid_alive(pid: int) -> bool:
    """Whether process ``pid`` of this host is running."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:     # someone else's process
        return True
    return True


def strict_json(value: Any) -> Any:
    """``value`` with every NaN or infinite float replaced by None: JSON that strict readers accept."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: strict_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [strict_json(v) for v in value]
    return value


def save_json(path: Path, data: dict) -> None:
    """Write ``data`` as strict JSON (``null``, never ``NaN``), atomically."""
    text = json.dumps(strict_json(data), indent=2, default=str, allow_nan=False) + "\n"
    atomic_write_bytes(path, lambda h: h.write(text.encode()))
