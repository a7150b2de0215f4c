"""The browser fixture itself, on a small local page: JS updates, a download, a screenshot."""

from __future__ import annotations

import http.server
import threading

import pytest

from browser import free_port

PAGE = b"""<!doctype html><title>fixture check</title>
<p id="status">queued</p><a id="csv" href="/grades.csv" download>grades</a>
<script>setTimeout(() => { document.getElementById('status').textContent = 'graded'; }, 300);
</script>"""


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body, kind = (
            (b"student,score\nalice,10\n", "text/csv")
            if self.path == "/grades.csv"
            else (PAGE, "text/html")
        )
        self.send_response(200)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def site():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


def test_chromium_runs_scripts_downloads_and_screenshots(site, new_page, tmp_path):
    page = new_page()
    page.goto(site + "/")
    assert page.locator("#status").text_content() == "queued"
    page.wait_for_function("document.getElementById('status').textContent === 'graded'")
    with page.expect_download() as info:
        page.click("#csv")
    download = info.value
    assert download.suggested_filename == "grades.csv"
    assert open(download.path()).read() == "student,score\nalice,10\n"
    png = page.screenshot(path=str(tmp_path / "shot.png"))
    assert png.startswith(b"\x89PNG") and "HeadlessChrome" in page.evaluate("navigator.userAgent")
