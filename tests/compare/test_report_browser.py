"""The HTML report in a real browser: served over HTTP on 127.0.0.1, opened in headless Chromium."""

from __future__ import annotations

import functools
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from rich.console import Console

from gptlab.compare.cli import compare

CHROMIUM = Path("/usr/bin/chromium")  # Debian's chromium package (`make install` installs it)
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMIUM.exists(), reason=f"{CHROMIUM} missing: `apt-get install chromium`"),
]


@pytest.fixture
def served(tmp_path):
    """An HTTP server for ``tmp_path`` on a free port of 127.0.0.1; yields its base URL."""
    handler = functools.partial(SimpleHTTPRequestHandler, directory=str(tmp_path))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_report_renders_table_and_plots(tiny_sweep, tmp_path, served):
    result = compare([tiny_sweep], tmp_path / "report", console=Console(record=True))
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            page = browser.new_page()
            response = page.goto(f"{served}/report/report.html")
            assert response is not None and response.ok
            headers = page.locator("#results th").all_inner_texts()
            assert headers[:3] == ["optimizer.lr", "n", "val bpb (mean)"]
            rows = page.locator("#results tbody tr")
            assert rows.count() == len(result.groups) == 2
            shown = [float(rows.nth(i).locator("td").nth(2).inner_text()) for i in range(rows.count())]
            assert shown == [round(g.stats["val_bpb"].mean, 4) for g in result.groups]
            images = page.locator(".plots img")
            assert images.count() == len(result.images) == 8
            page.wait_for_function("Array.from(document.images).every(img => img.complete)")
            widths = page.eval_on_selector_all(".plots img", "imgs => imgs.map(img => img.naturalWidth)")
            assert all(width > 0 for width in widths), widths
        finally:
            browser.close()
