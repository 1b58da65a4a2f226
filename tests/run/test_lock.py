"""The run dir lock: one holder at a time, released on exit."""

from __future__ import annotations

import socket

import pytest

from gptlab.run.lock import LOCK_FILE, RunDirLock, RunDirLocked


def test_a_second_holder_is_refused_until_the_first_releases(tmp_path):
    with RunDirLock(tmp_path):
        with pytest.raises(RunDirLocked, match=f"pid \\d+ on host {socket.gethostname()}"):
            RunDirLock(tmp_path).acquire()
    with RunDirLock(tmp_path):
        assert (tmp_path / LOCK_FILE).exists()
    assert not (tmp_path / LOCK_FILE).exists()
