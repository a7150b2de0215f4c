"""A real headless Chromium for end-to-end tests: Playwright driving Debian's /usr/bin/chromium.

Playwright's own browser downloads are not used (`playwright install` is never run): the
browser is the Debian package `scripts/setup-packages.sh` installs. `--no-sandbox` because CI
runs as root. `tests/conftest.py` imports the fixtures, so one Playwright serves the session.
"""

from __future__ import annotations

import os
import socket
import subprocess

import pytest

CHROMIUM = "/usr/bin/chromium"
TIMEOUT_MS = 60_000  # generous: the machine may be loaded many times over


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


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
        pytest.fail(
            f"{CHROMIUM} is missing: run `make setup` (scripts/setup-packages.sh "
            "installs Debian's chromium)"
        )
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=["--no-sandbox", "--disable-dev-shm-usage"],
        )
        yield chromium
        chromium.close()


@pytest.fixture
def new_page(browser):
    """`new_page()`: a page in a fresh browser context (its own cookies), downloads accepted."""
    contexts = []

    def make():
        context = browser.new_context(
            accept_downloads=True, viewport={"width": 1200, "height": 900}
        )
        context.set_default_timeout(TIMEOUT_MS)
        contexts.append(context)
        return context.new_page()

    yield make
    for context in contexts:
        context.close()
