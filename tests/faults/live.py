"""A training run in a subprocess that a test steers: stall it at a step, signal it, wait for its output.

``STALL_PLUGIN`` is a logger plugin (``logger=stall``) that, at log step ``logger.at_step`` (0: while
the run is still starting up), writes ``logger.marker`` and waits until ``logger.release`` exists.
Tests wait for files and output lines, never for time to pass, so they hold on a slow machine.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

from tests.helpers import REPO

TIMEOUT = 240  # seconds; generous, for a busy machine: a test waits for events, not for time

STALL_PLUGIN = '''
import os, time
from dataclasses import dataclass
from pathlib import Path

from gptlab.logger.jsonl import JsonlSink
from gptlab.registry import register


@dataclass
class StallConfig:
    name: str = "stall"
    at_step: int = 5
    marker: str = "stalled"
    release: str = "release"


def stall(cfg):
    Path(cfg.marker).write_text(str(os.getpid()))
    while not Path(cfg.release).exists():
        time.sleep(0.02)


class StallSink:
    def __init__(self, cfg):
        self.cfg = cfg

    def log(self, step, metrics):
        if step == self.cfg.at_step:
            stall(self.cfg)

    def finish(self, exit_code=0):
        pass


@register("logger", "stall", StallConfig)
def stall_logger(cfg, run):
    """metrics.jsonl, and a stall at logger.at_step until logger.release exists (fault tests)."""
    if cfg.at_step == 0:
        stall(cfg)
    return [JsonlSink(run.run_dir, run.resume_step), StallSink(cfg)]
'''


def plugin_env(folder: Path) -> dict[str, str]:
    """The environment of a run that can select ``logger=stall`` (the plugin is written into ``folder``)."""
    (folder / "stall_logger.py").write_text(STALL_PLUGIN)
    return {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(folder), str(REPO)]),
        "GPTLAB_PLUGINS": "stall_logger",
        "PYTHONUNBUFFERED": "1",
    }


def stall_args(folder: Path, at_step: int) -> list[str]:
    return [
        "logger=stall",
        f"logger.at_step={at_step}",
        f"logger.marker={folder / 'stalled'}",
        f"logger.release={folder / 'release'}",
    ]


class LiveRun:
    """``python -m gptlab.train ARGS`` running in the background, its output collected line by line."""

    def __init__(self, args: list[str], cwd: Path, env: dict[str, str]):
        self.process = subprocess.Popen(
            [sys.executable, "-m", "gptlab.train", *args],
            cwd=cwd,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines = {"stdout": [], "stderr": []}
        self._changed = threading.Condition()
        self._readers = [
            threading.Thread(target=self._read, args=(name, getattr(self.process, name)), daemon=True)
            for name in self.lines
        ]
        for reader in self._readers:
            reader.start()

    def _read(self, name: str, stream) -> None:
        for line in stream:
            with self._changed:
                self.lines[name].append(line)
                self._changed.notify_all()
        with self._changed:
            self._changed.notify_all()

    def output(self) -> str:
        return f"stdout:\n{''.join(self.lines['stdout'])}\nstderr:\n{''.join(self.lines['stderr'])}"

    def wait_for_output(self, text: str, stream: str = "stderr") -> None:
        """Until ``text`` appears in ``stream``; fails if the process ends first."""
        deadline = time.monotonic() + TIMEOUT
        with self._changed:
            while text not in "".join(self.lines[stream]):
                if self.process.poll() is not None and not any(r.is_alive() for r in self._readers):
                    raise AssertionError(f"the run ended before printing {text!r}\n{self.output()}")
                if not self._changed.wait(timeout=max(0.0, deadline - time.monotonic())):
                    raise AssertionError(f"no {text!r} within {TIMEOUT} s\n{self.output()}")

    def wait_for_file(self, path: Path) -> None:
        """Until ``path`` exists; fails if the process ends first."""
        deadline = time.monotonic() + TIMEOUT
        while not path.exists():
            if self.process.poll() is not None:
                raise AssertionError(f"the run ended before writing {path}\n{self.output()}")
            if time.monotonic() > deadline:
                raise AssertionError(f"no {path} within {TIMEOUT} s\n{self.output()}")
            time.sleep(0.02)

    def finish(self) -> int:
        """The exit code, once the process and its output have ended."""
        code = self.process.wait(timeout=TIMEOUT)
        for reader in self._readers:
            reader.join(timeout=TIMEOUT)
        return code

    @property
    def stdout(self) -> str:
        return "".join(self.lines["stdout"])

    @property
    def stderr(self) -> str:
        return "".join(self.lines["stderr"])
