"""The web app of gptlab-serve in headless Chromium: a streamed chat reply, and a run's curves growing while it trains."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import MACBETH, REPO, TINY
from tests.serve.server import serving

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"]
WAIT_MS = 240_000  # generous: the machine may be busy; a run that works passes far sooner

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason=f"{CHROMIUM} missing: `apt-get install chromium`")


@pytest.fixture
def browser():
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            yield browser
        finally:
            browser.close()


def test_chat_page_streams_a_reply(hf_folder, tmp_path, browser):
    with serving(["--model", str(hf_folder), "--name", "tiny"]) as url:
        page = browser.new_page()
        assert page.goto(url + "/").ok
        page.wait_for_function("document.querySelectorAll('#model option').length > 0", timeout=WAIT_MS)
        assert page.locator("#model").input_value() == "tiny"
        page.fill("#temperature", "0")
        page.fill("#max-tokens", "12")
        page.fill("#prompt", "To be, or not to be")
        page.press("#prompt", "Enter")
        page.wait_for_selector(".msg.assistant[data-done=true]", timeout=WAIT_MS)
        assert page.locator(".msg.user .text").inner_text() == "To be, or not to be"
        reply = page.locator(".msg.assistant .text")
        assert reply.inner_text() and int(reply.get_attribute("data-chunks")) >= 2  # it came in pieces
        assert page.locator("#stop").is_disabled() and not page.locator("#send").is_disabled()


@pytest.mark.slow
def test_runs_page_shows_a_training_run_its_growing_curve_and_opens_a_chat_with_it(hf_folder, tmp_path, browser):
    outputs = tmp_path / "outputs"
    run_dir = outputs / "tiny-run"
    training = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gptlab.train",
            *TINY,
            *MACBETH,
            "tokenizer=byte",
            "trainer.log_every=1",
            "trainer.max_steps=100000",
            "trainer.eval_every=20",
            f"hydra.run.dir={run_dir}",
        ],
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        outputs.mkdir(parents=True, exist_ok=True)
        with serving(["--model", str(hf_folder), "--name", "tiny", "--runs", str(outputs)]) as url:
            page = browser.new_page()
            assert page.goto(url + "/#runs").ok
            row = page.locator("#runs-table tr[data-run='tiny-run']")
            row.wait_for(timeout=WAIT_MS)
            row.click()
            count = "Number(document.querySelector('#plot-loss').dataset.count || 0)"
            page.wait_for_function(f"{count} >= 2", timeout=WAIT_MS)
            seen = page.evaluate(count)
            page.wait_for_function(f"{count} > {seen}", timeout=WAIT_MS)  # new steps arrive while it trains
            assert page.locator("#plot-lr polyline").count() == 1
            assert page.locator("#plot-tps polyline").count() == 1
            assert "status-running" in row.locator("td").nth(1).get_attribute("class")
            assert "model=gpt" in row.locator("td").nth(2).inner_text()
            link = row.locator("a.chat-link")
            link.wait_for(timeout=WAIT_MS)  # the first checkpoint (step 20) makes the run a model
            link.click()
            page.wait_for_selector("#chat:not([hidden])")
            assert page.locator("#model").input_value() == "run:tiny-run"
            page.fill("#max-tokens", "6")
            page.fill("#prompt", "Hail")
            page.click("#send")
            page.wait_for_selector(".msg.assistant[data-done=true]", timeout=WAIT_MS)
            assert page.locator(".msg.error").count() == 0
    finally:
        training.terminate()
        training.wait(timeout=60)
