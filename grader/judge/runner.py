"""Runs an exercise's tests against one prepared submission, in a pytest run on the host.

The run (a child forked from a warm parent, `grader.judge.warm`) collects only the exercise's
test folders (never the student's folder, so a submitted `conftest.py` or `pytest.ini` has no
effect), loads
`grader.judge.plugin`, and writes a JSON report that this module reads back.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from grader.course import Exercise, Limits
from grader.errors import PlatformError, SandboxUnavailable
from grader.judge.warm import JudgeProcess, start_server
from grader.protocol import Job, MalformedMessage, Report, TestRecord
from grader.sandbox import cores
from grader.sandbox import preload as sandbox_preload
from grader.sandbox.pool import shared_pool

PYTEST_INI = "[pytest]\naddopts =\n"
log = logging.getLogger("grader")
_active: set[JudgeProcess] = set()
_active_lock = threading.Lock()
stopping = threading.Event()  # set by terminate_all: no new test run starts in this process


def terminate_all() -> None:
    """Stop every test run in progress and refuse new ones (on Ctrl-C); each run removes its own
    sandbox."""
    with _active_lock:
        stopping.set()
        running = list(_active)
    for proc in running:
        proc.signal_group(signal.SIGTERM)
    for proc in running:
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.signal_group(signal.SIGKILL)


@dataclass
class TestRun:
    """What one run of an exercise's tests produced: a record per test (`grader.judge.plugin`)
    and the evidence of tampering its replies carried (`grader.judge.suspicion`)."""

    records: list[TestRecord]
    tampering: list[dict] = field(default_factory=list)


def run_tests(
    exercise: Exercise,
    submission: Path,
    backend: str,
    limits: Limits,
    seed: int,
    suites: tuple[str, ...] = ("public", "hidden"),
    verbose: bool = False,
    only: list[str] | None = None,
) -> TestRun:
    """The records of every test in `suites` (or of the test functions named in `only`); raises
    `PlatformError` when the test run itself broke (the platform's fault, not the student's):
    scoring is closed, so a run that did not end with exactly one record per collected test,
    and pytest's verdict "tests passed" or "tests failed", is never scored."""
    root = exercise.root.resolve()
    folders = test_folders(exercise, suites)
    if not folders:
        raise PlatformError(f"exercise {exercise.slug} has no {' or '.join(suites)} tests folder")
    with tempfile.TemporaryDirectory(prefix="pgrader-job-") as tmp_name:
        tmp = Path(tmp_name)
        job = Job(
            submission=str(Path(submission).resolve()),
            module=exercise.module,
            backend=backend,
            limits=asdict(limits),
            seed=seed,
            report=str(tmp / "report.json"),
            only=only,
            gpu=exercise.runtime.gpu,
        )
        (tmp / "pytest.ini").write_text(PYTEST_INI)
        args = [
            "-c",
            str(tmp / "pytest.ini"),
            "--rootdir",
            str(root),
            "--confcutdir",
            str(root / "tests"),
            "-p",
            "no:cacheprovider",
            "-p",
            "grader.judge.plugin",
            "--grader-job",
            str(tmp / "job.json"),
            "-q" if verbose else "-qq",
            "--no-header",
            *map(str, folders),
        ]
        # Only our plugin: pytest plugins installed in the venv (xdist, timeout, anyio...) are
        # not loaded (about 1.5 s per submission on a loaded 2-core machine; scripts/bench_scale.py).
        wait_log = tmp / "core-waits"  # seconds the run's requests waited for host cores
        env = {
            **os.environ,
            "PYTHONDONTWRITEBYTECODE": "1",
            "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1",
            cores.WAIT_LOG: str(wait_log),
        }
        budget = time_budget(limits, folders)
        output = tmp / "output.txt"
        with _sandbox_box(
            backend, limits, exercise.runtime.gpu, sandbox_preload.for_exercise(exercise.root)
        ) as box:
            if box is not None:
                job.box = box.describe()
            job.write(tmp / "job.json")
            with _active_lock:  # checked where the run starts: terminate_all sees it or stops it
                if stopping.is_set():
                    raise PlatformError(
                        "grading was interrupted before this submission's tests ran"
                    )
                proc = JudgeProcess(
                    args,
                    str(tmp),
                    env,
                    None if verbose else str(output),
                    preload=[str(f) for f in folders],
                )
                _active.add(proc)
            try:
                _wait(proc, budget, wait_log)
            except subprocess.TimeoutExpired:
                proc.signal_group(signal.SIGTERM)
                proc.wait()
                raise PlatformError(
                    f"the test run did not finish within {budget:.0f} s "
                    "(not counting its waits for free cores)"
                ) from None
            except BaseException:
                proc.signal_group(signal.SIGTERM)  # Ctrl-C: the plugin closes its session
                proc.wait()
                raise
            finally:
                _active.discard(proc)
        report = tmp / "report.json"
        tail = _tail(output)
        if not report.exists():
            raise PlatformError(
                f"the test run ended (exit {proc.returncode}) without a report:\n{tail}"
            )
        try:
            data = Report.read(report)
        except MalformedMessage as exc:
            raise PlatformError(
                f"the test run's report could not be read ({exc}):\n{tail}"
            ) from None
        return TestRun(_checked(data, folders, only, proc.returncode, tail), data.tampering)


# pytest's exit codes that mean "the tests ran": all passed, some failed
PYTEST_RAN = (0, 1)


def _checked(
    report: Report,
    folders: list[Path],
    only: list[str] | None,
    exit_code: int | None,
    tail: str = "",
) -> list[TestRecord]:
    """The report's test records; PlatformError when the course's tests are broken or missing, so
    the submission counts as not graded rather than as "0 of 0 tests passed", and when the run
    did not close: a collected test without exactly one record, a failure of the plugin, or an
    exit code other than passed/failed (weights are never spread over the tests that happened
    to report)."""
    broken = report.broken_test_files
    if broken:
        first = broken[0]
        raise PlatformError(
            f"the exercise's tests could not be loaded ({len(broken)} broken; "
            f"an error in the course, not in the submission): {first['where']}: "
            f"{first['error']}"
        )
    records = report.tests
    if not records:
        wanted = f"named {', '.join(only)} " if only else ""
        raise PlatformError(f"no tests {wanted}were found in " + ", ".join(map(str, folders)))
    collected = report.collected
    recorded = [r.nodeid for r in records]
    missing = [n for n in collected if recorded.count(n) != 1]
    extra = [n for n in recorded if n not in collected]
    failures = report.failures
    if missing or extra or failures or exit_code not in PYTEST_RAN:
        why = "; ".join(
            filter(
                None,
                [
                    f"{len(missing)} of {len(collected)} collected tests without exactly one record "
                    f"({', '.join(missing[:3])})"
                    if missing
                    else "",
                    f"records of tests never collected ({', '.join(map(str, extra[:3]))})"
                    if extra
                    else "",
                    f"the judge's plugin failed: {failures[0]}" if failures else "",
                    f"pytest exited with code {exit_code}" if exit_code not in PYTEST_RAN else "",
                ],
            )
        )
        log.error(
            "grading alert: the test run did not close (%s); the submission is not graded. "
            "Output:\n%s",
            why,
            tail[-1500:],
        )
        raise PlatformError(f"the test run did not close ({why}): not graded, to be retried")
    return records


def _wait(proc: JudgeProcess, budget: float, wait_log: Path) -> int:
    """`proc`'s exit code once it ends; TimeoutExpired after `budget` s plus its waits for cores."""
    t0 = time.monotonic()
    while True:
        left = budget + cores.waited(wait_log) - (time.monotonic() - t0)
        try:
            return proc.wait(timeout=max(left, 0.1))
        except subprocess.TimeoutExpired:
            if budget + cores.waited(wait_log) <= time.monotonic() - t0:
                raise


def _tail(output: Path, limit: int = 3000) -> str:
    """The end of a run's output (pytest's, with whatever the course's tests printed)."""
    try:
        with open(output, "rb") as f:
            f.seek(max(0, os.path.getsize(output) - limit))
            return f.read().decode("utf-8", "replace")
    except OSError:
        return ""


def warm_up(exercise: Exercise, backend: str) -> None:
    """Start in the background what the first submission's run would wait for: the judge's fork
    server and, on Docker (no GPU), the warm pool's first containers for `exercise`. A failure
    here is left for that run to meet and report."""
    start_server()
    if backend == "docker" and not exercise.runtime.gpu:
        try:
            shared_pool().prefill(exercise.limits, sandbox_preload.for_exercise(exercise.root))
        except SandboxUnavailable:
            pass


@contextlib.contextmanager
def _sandbox_box(backend: str, limits: Limits, gpu: bool, preload: tuple = ()):
    """A container started ahead of time for this run (Docker, no GPU), removed after it, off
    the critical path; None where the run's plugin opens its own sandbox."""
    if backend != "docker" or gpu:
        yield None
        return
    try:
        pool = shared_pool()
        box = pool.take(limits, preload)
    except SandboxUnavailable as exc:
        raise PlatformError(f"the sandbox could not start: {exc}") from exc
    try:
        yield box
    finally:
        pool.discard(box)


def test_folders(exercise: Exercise, suites: tuple[str, ...] = ("public", "hidden")) -> list[Path]:
    root = exercise.root.resolve()
    return [root / "tests" / s for s in suites if (root / "tests" / s).is_dir()]


def time_budget(limits: Limits, folders: list[Path]) -> float:
    """Seconds a whole test run over `folders` may take before it counts as broken."""
    return 60 + limits.wall_seconds * 4 * max(1, _count_tests(folders))


def _count_tests(folders: list[Path]) -> int:
    from grader.judge.counting import count_tests

    return count_tests(folders)
