"""A real headless Chromium for end-to-end tests: Playwright driving Debian's /usr/bin/chromium.

Playwright's own browser downloads are not used (`playwright install` is never run): the
browser is the Debian package `scripts/setup-packages.sh` installs. `--no-sandbox` because CI
runs as root. Import the fixtures into a test module:

    from browser import browser, new_page  # noqa: F401  (pytest fixtures)
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
TIMEOUT_MS = 60_000               # generous: the machine may be loaded many times over


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(argv: list[str], cwd: Path, marker: str, log: Path,
                 timeout: float) -> tuple[subprocess.Popen, str]:
    """Start `argv` (stdout and stderr to `log`), wait for a line containing `marker`.

    Fails the test with the log when the line does not come in `timeout` seconds.
    """
    out = open(log, "w")
    proc = subprocess.Popen(argv, cwd=cwd, stdout=out, stderr=subprocess.STDOUT, text=True,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})
    out.close()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        text = log.read_text(errors="replace")
        line = next((s for s in text.splitlines() if marker in s), None)
        if line:
            return proc, line
        if proc.poll() is not None:
            break
        time.sleep(0.2)
    stop(proc)
    pytest.fail(f"no {marker!r} from {' '.join(argv)} (exit {proc.returncode}):\n"
                f"{log.read_text(errors='replace')[-5000:]}")


def stop(proc: subprocess.Popen) -> None:
    """Terminate `proc` (then kill it) and reap it."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=15)


@pytest.fixture(scope="session")
def browser():
    """One headless Chromium for the session (fails, never skips, when it is missing)."""
    from playwright.sync_api import sync_playwright

    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"{CHROMIUM} is missing: run `make setup` (scripts/setup-packages.sh "
                    "installs Debian's chromium)")
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, headless=True,
                                      args=["--no-sandbox", "--disable-dev-shm-usage"])
        yield chromium
        chromium.close()


@pytest.fixture
def new_page(browser):
    """`new_page()`: a page in a fresh browser context (its own cookies), downloads accepted."""
    contexts = []

    def make():
        context = browser.new_context(accept_downloads=True,
                                      viewport={"width": 1200, "height": 900})
        context.set_default_timeout(TIMEOUT_MS)
        contexts.append(context)
        return context.new_page()

    yield make
    for context in contexts:
        context.close()
