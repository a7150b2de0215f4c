"""Shared fixtures for the platform's own tests."""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

import pytest

from browser import browser, new_page  # noqa: F401  (headless Chromium fixtures, tests/browser.py)
from grader.course import Limits

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def make_submission(tmp_path):
    """Write `solution.py` (dedented) into a fresh folder and return the folder."""
    counter = iter(range(10_000))

    def make(source: str, name: str = "solution.py") -> Path:
        folder = tmp_path / f"sub{next(counter)}"
        folder.mkdir()
        (folder / name).write_text(textwrap.dedent(source))
        return folder

    return make


@pytest.fixture
def limits() -> Limits:
    return Limits(wall_seconds=5)


def require_docker():
    """Skip without Docker, except in CI, where Docker must work."""
    from grader.sandbox import docker_available

    if not docker_available():
        if os.environ.get("CI"):
            pytest.fail("Docker is required in CI but no engine answers")
        pytest.skip("no Docker engine answers")


@pytest.fixture(scope="session")
def docker_backend():
    """A Docker backend with its image built; skipped without Docker (failed in CI)."""
    require_docker()
    from grader.sandbox.docker import DockerBackend

    backend = DockerBackend(log=lambda *a: None)
    backend.describe()  # builds the image if it is missing
    return backend
