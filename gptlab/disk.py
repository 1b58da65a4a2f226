"""Disk space and interrupted writes: check the free space before a large write, turn a full disk
(ENOSPC, a quota) into one clear error naming the path and the bytes needed, and find the temp files
of writers that died mid-write.

A temp file's name carries its writer (``<pid>@<host>``, see :func:`temp_prefix`), so a later start
removes only the files of writers that are gone, never one that a live process is still writing.
"""

from __future__ import annotations

import errno
import os
import re
import shutil
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from gptlab.errors import GptlabError

DISK_FULL_ERRNOS = {errno.ENOSPC, errno.EDQUOT}
WRITER = re.compile(r"-(?P<pid>\d+)@(?P<host>.+?)\.[A-Za-z0-9_]+(\.tmp)?$")  # <prefix>-<pid>@<host>.<random>[.tmp]


class DiskFullError(GptlabError):
    """The disk (or the quota) holding a file gptlab writes has no room for it."""


def human_bytes(n: float) -> str:
    for unit in ("bytes", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:,.0f} {unit}" if unit == "bytes" else f"{n:,.1f} {unit}"
        n /= 1024
    return f"{n} bytes"  # unreachable


def free_bytes(path: Path) -> int:
    """Free bytes for an unprivileged writer on the filesystem that holds (or will hold) ``path``."""
    path = Path(path).absolute()
    while not path.exists() and path != path.parent:
        path = path.parent
    return shutil.disk_usage(path).free


def check_free_space(path: Path, needed: int, what: str, hint: str) -> None:
    """Refuse a write of about ``needed`` bytes to ``path`` when its disk has less free space."""
    free = free_bytes(path)
    if free < needed:
        raise DiskFullError(
            f"Not enough disk space for {what} at '{path}': it needs about {human_bytes(needed)} and "
            f"{human_bytes(free)} are free. {hint}"
        )


def is_disk_full(error: BaseException | None) -> bool:
    return isinstance(error, OSError) and error.errno in DISK_FULL_ERRNOS


def disk_full_error(path: Path, needed: int | None, what: str, hint: str) -> DiskFullError:
    """The error for a write to ``path`` that ran out of space (``needed``: the size, if known)."""
    size = f"it needs about {human_bytes(needed)}" if needed else "it needs more room"
    return DiskFullError(
        f"The disk ran full while writing {what} to '{path}' ({size}; {human_bytes(free_bytes(path))} free now). {hint}"
    )


@contextmanager
def disk_full_as_error(path: Path, needed: int | None, what: str, hint: str) -> Iterator[None]:
    """Turn an ENOSPC/EDQUOT ``OSError`` raised inside the block into a :class:`DiskFullError`."""
    try:
        yield
    except OSError as error:
        if is_disk_full(error):
            raise disk_full_error(path, needed, what, hint) from None
        raise


class RecordingWriter:
    """A binary file that remembers the ``OSError`` a write raised, for writers (``torch.save``) that
    replace it with their own error: ``recorder.error`` tells a full disk from other failures."""

    def __init__(self, file):
        self.file, self.error, self.written = file, None, 0

    def write(self, data) -> int:
        try:
            n = self.file.write(data)
        except OSError as error:
            self.error = error
            raise
        self.written += n
        return n

    def flush(self) -> None:
        self.file.flush()


def temp_prefix(name: str) -> str:
    """The prefix (for ``tempfile.mkstemp``/``mkdtemp``) of a hidden temp entry for ``name`` that
    names its writer: ``.<name>-<pid>@<host>.``"""
    return f".{name}-{os.getpid()}@{socket.gethostname()}."


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, owned by someone else
        return True
    return True


def is_orphan(path: Path) -> bool:
    """A temp file or folder whose writer is gone: its pid no longer runs on this host, or its name
    carries no writer (left by an older gptlab). One written from another host is kept."""
    match = WRITER.search(path.name)
    if match is None:
        return True
    pid = int(match["pid"])
    return match["host"] == socket.gethostname() and (pid == os.getpid() or not _process_alive(pid))


def remove_orphans(folder: Path, pattern: str) -> list[Path]:
    """Delete the entries of ``folder`` matching ``pattern`` whose writer is gone; returns them."""
    removed = []
    if not Path(folder).is_dir():
        return removed
    for path in sorted(Path(folder).glob(pattern)):
        if not is_orphan(path):
            continue
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
        removed.append(path)
    return removed
