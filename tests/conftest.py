"""Shared fixtures for the platform's own tests."""

from __future__ import annotations

import os
import signal
import textwrap
from contextlib import contextmanager
from pathlib import Path

import pytest

import leftovers
from browser import browser, new_page  # noqa: F401  (headless Chromium fixtures, tests/browser.py)
from grader.agent import codec
from grader.course import Limits
from grader.sandbox.local import LocalBackend
from servers import RedisServer

ROOT = Path(__file__).resolve().parents[1]
pytest_plugins = ["postgres"]  # the private PostgreSQL cluster's fixtures (tests/postgres.py)


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


@contextmanager
def sandbox_student(backend, folder: Path, source: str, wall_seconds: float = 30):
    """A judge-side `Student` on `source` as `folder`/solution.py, in a session of `backend`."""
    import dataclasses

    from grader.judge.proxy import Student

    folder.mkdir()
    (folder / "solution.py").write_text(source)
    limits = Limits(wall_seconds=wall_seconds)
    with backend.open(folder, limits) as session:
        yield Student(
            session=session, module="solution", timeout=10, limits=dataclasses.asdict(limits)
        )


@contextmanager
def local_session(folder: Path, source: str, limits: Limits | None = None):
    """A local-backend session on `source` (dedented) as `folder`/solution.py."""
    (folder / "solution.py").write_text(textwrap.dedent(source))
    with LocalBackend().open(folder, limits or Limits()) as s:
        yield s


def load_module(name: str, path: Path):
    """The module in file `path` (a script of scripts/, the attack corpus), imported as `name`
    and kept in sys.modules: these are not packages the project installs."""
    import importlib.util
    import sys

    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def call_function(session, function: str, *args, timeout: float = 3.0, **extra) -> dict:
    """The raw reply to one plain request on `session`: `function` of solution.py called with
    `args` (`extra`: more request fields, such as "limits")."""
    return session.call(
        {
            "kind": "call",
            "module": "solution",
            "function": function,
            "args": codec.encode(list(args)),
            "timeout": timeout,
            **extra,
        }
    )


@pytest.fixture(scope="module")
def session(request, tmp_path_factory):
    """One local-backend session for the module's tests, on the module's `SOURCE` as
    solution.py, under its `SESSION_LIMITS` (default `Limits()`). A module that needs another
    kind of session (Docker, a GPU) defines its own `session` fixture."""
    module = request.module
    folder = tmp_path_factory.mktemp(module.__name__.rpartition(".")[2])
    with local_session(folder, module.SOURCE, getattr(module, "SESSION_LIMITS", None)) as s:
        yield s


def hidden_verdicts(tmp_path: Path, slug: str, source: str, tests: list[str], seed: int) -> dict:
    """{test function: verdict} of `source` graded on the local backend, those hidden tests only."""
    from grader.course import load_course
    from grader.grade import grade_submission

    course = load_course(ROOT)
    src = tmp_path / "solution.py"
    src.write_text(source)
    result = grade_submission(
        course,
        course.exercise(slug),
        src,
        backend="local",
        suites=("hidden",),
        only=tests,
        seed=seed,
    )
    return {t.function: (str(t.verdict), t.message or "") for t in result.tests}


def require_docker():
    """Skip without Docker, except in CI, where Docker must work."""
    from grader.sandbox import docker_available

    if not docker_available():
        if os.environ.get("CI"):
            pytest.fail("Docker is required in CI but no engine answers")
        pytest.skip("no Docker engine answers")


@pytest.fixture
def redis(tmp_path):
    """A private redis-server for the test (tests/servers.py), SIGKILLed after it."""
    server = RedisServer(tmp_path / "redis")
    server.start()
    try:
        yield server
    finally:
        server.stop(signal.SIGKILL)


@pytest.fixture(scope="session")
def docker_backend():
    """A Docker backend with its image built; skipped without Docker (failed in CI)."""
    require_docker()
    from grader.sandbox.docker import DockerBackend

    backend = DockerBackend(log=lambda *a: None)
    backend.describe()  # builds the image if it is missing
    return backend


def pytest_configure(config):
    leftovers.mark_session(
        worker=hasattr(config, "workerinput")
    )  # before any test starts a process


def pytest_sessionfinish(session):
    _remove_deep_folders(session)
    if not hasattr(session.config, "workerinput"):  # (an xdist worker: the controller checks)
        _fail_on_leftovers(session)


def _fail_on_leftovers(session) -> None:
    """Kill every process and remove every sandbox container the session left running, naming
    each, and fail the session: each test stops what it started, also when it fails."""
    found = leftovers.collect_and_kill()
    if not found:
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    lines = [f"process {p}" for p in found.processes] + [f"container {c}" for c in found.containers]
    if reporter is not None:
        reporter.write_sep(
            "!",
            f"left running when the session ended ({len(lines)}, now killed)",
            red=True,
            bold=True,
        )
        for line in lines:
            reporter.write_line(line, red=True)
    else:
        print("left running when the session ended:", *lines, sep="\n  ")
    if session.exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def _remove_deep_folders(session) -> None:
    """Remove folder trees nested deeper than pytest's own clean-up can recurse.

    Attacks hand in folders nested 1,100 deep; pytest removes old temporary folders
    with a recursive walk at exit and dies of RecursionError on them (exit status 1
    after a green run). `rm -rf` walks without a depth limit.
    """
    factory = getattr(session.config, "_tmp_path_factory", None)
    base = getattr(factory, "_basetemp", None)
    if base is None or not Path(base).is_dir():
        return
    import subprocess

    found = subprocess.run(
        ["find", str(base), "-mindepth", "100", "-maxdepth", "100", "-type", "d", "-prune"],
        capture_output=True,
        text=True,
    ).stdout.split("\n")
    for deep in filter(None, found):
        subprocess.run(["rm", "-rf", deep], check=False)
