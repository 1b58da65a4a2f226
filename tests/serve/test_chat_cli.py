"""gptlab-chat: its remote backend talks to a real gptlab-serve process; commands, multi-line input, trimming."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

import httpx
import pytest

from tests.helpers import REPO, run_in_process


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def served(hf_folder):
    """``python -m gptlab.serve.cli`` in a subprocess on its default interface (127.0.0.1)."""
    port = free_port()
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(
        [sys.executable, "-m", "gptlab.serve.cli", "--model", str(hf_folder), "--name", "tiny", "--port", str(port)],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while True:
        try:
            if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        assert process.poll() is None, process.stdout.read()
        assert time.monotonic() < deadline, "gptlab-serve did not come up"
        time.sleep(0.2)
    yield url
    process.terminate()
    process.wait(timeout=30)


def chat(url: str, typed: str, *extra: str):
    return subprocess.run(
        [sys.executable, "-m", "gptlab.chat", "--model", f"{url}/v1", "--remote-model", "tiny", *extra],
        input=typed,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )


def test_remote_chat_commands_and_multiline_input(served):
    typed = (
        '/temp hot\n/max -3\n/frobnicate\n/temp 0\n/max 4\nhello\n"""\nline one\nline two\n"""\n'
        "/system be brief\n/reset\nhi \\\nthere\n/quit\nnever read\n"
    )
    done = chat(served, typed)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "gptlab-chat: tiny (remote, context 64 tokens)" in out
    assert "(temperature 0.0)" in out and "(max tokens 4)" in out
    assert "(system prompt set)" in out and "(conversation cleared)" in out
    assert out.count("bot> ") == 3
    assert "(/temp hot:" in out and "(/max -3:" in out and "(unknown command /frobnicate" in out


def test_history_outgrowing_the_context_is_trimmed_with_a_notice(served):
    turn = "To be, or not to be, that is the question.\n"
    done = chat(served, turn * 6, "--max-tokens", "4", "--temperature", "0")
    assert done.returncode == 0, done.stderr
    assert "(dropped the" in done.stdout and "oldest message(s) to fit the model's context of 64 tokens)" in done.stdout
    assert done.stdout.count("bot> ") == 6


def test_an_unreachable_endpoint_is_a_clear_error(tmp_path):
    done = run_in_process(
        "gptlab.chat", ["--model", f"http://127.0.0.1:{free_port()}/v1", "--timeout", "2"], cwd=tmp_path
    )
    assert done.returncode == 2 and "Cannot reach" in done.stderr and "Traceback" not in done.stderr


def test_an_unknown_run_dir_is_a_clear_error(tmp_path):
    done = run_in_process("gptlab.chat", ["--model", str(tmp_path / "no-such-run")], cwd=tmp_path)
    assert done.returncode == 2 and "does not exist" in done.stderr and "Traceback" not in done.stderr
