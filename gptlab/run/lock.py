"""One writer per run dir: ``run.lock`` holds the pid and host of the run writing there.

The file is locked with ``flock`` while the run lives; the kernel drops that lock when the process
ends however it ends (even SIGKILL), so the next run reclaims a lock whose process is gone. A
second run into a dir whose lock is held is refused, naming the holder. (``flock`` works across
machines on NFSv4 and Lustre; on a file system without it, the pid and host tell you whom to ask.)
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import time
from pathlib import Path
from typing import Any

from gptlab.errors import GptlabError

LOCK_FILE = "run.lock"


class RunDirLocked(GptlabError):
    """Another live run writes into this run dir."""


class RunDirLock:
    """``with RunDirLock(run_dir):`` holds the run dir for this process (a no-op when not ``enabled``)."""

    def __init__(self, run_dir: Path, enabled: bool = True):
        self.path, self.enabled = Path(run_dir) / LOCK_FILE, enabled
        self._fd: int | None = None

    def __enter__(self) -> RunDirLock:
        if self.enabled:
            self.acquire()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.release()

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                holder = _read(fd)
                os.close(fd)
                raise RunDirLocked(
                    f"Run dir '{self.path.parent}' is in use by another run (pid {holder.get('pid', '?')} on host "
                    f"{holder.get('host', '?')}, started {holder.get('started', '?')}). Wait for it to end, stop it, "
                    f"or choose another hydra.run.dir. Its lock, {self.path}, is freed when that process ends."
                ) from None
            if _same_file(fd, self.path):  # not a lock file a finishing run unlinked meanwhile
                break
            os.close(fd)
        previous = _read(fd)
        if previous.get("pid"):
            print(f"run dir: reclaimed the lock of pid {previous['pid']} on {previous.get('host')}, which is gone")
        info = {"pid": os.getpid(), "host": socket.gethostname(), "started": time.strftime("%Y-%m-%d %H:%M:%S")}
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(info).encode(), 0)
        self._fd = fd

    def release(self) -> None:
        if self._fd is None:
            return
        self.path.unlink(missing_ok=True)  # while still locked: the next run creates a fresh file
        os.close(self._fd)
        self._fd = None


def _read(fd: int) -> dict[str, Any]:
    try:
        return json.loads(os.pread(fd, 4096, 0) or b"{}")
    except (OSError, ValueError):
        return {}


def _same_file(fd: int, path: Path) -> bool:
    try:
        return os.stat(path).st_ino == os.fstat(fd).st_ino
    except FileNotFoundError:
        return False
