"""Runs an exercise's tests against one prepared submission, in a pytest subprocess on the host.

The subprocess collects only the exercise's test folders (never the student's
folder, so a submitted `conftest.py` or `pytest.ini` has no effect), loads
`grader.judge.plugin`, and writes a JSON report that this module reads back.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict
from pathlib import Path

from grader.course import Exercise, Limits
from grader.sandbox import cores

PYTEST_INI = "[pytest]\naddopts =\n"
_active: set[subprocess.Popen] = set()
_active_lock = threading.Lock()
stopping = threading.Event()  # set by terminate_all: no new test run starts in this process


def terminate_all() -> None:
    """Stop every test run in progress and refuse new ones (on Ctrl-C); each run removes its own
    sandbox."""
    with _active_lock:
        stopping.set()
        running = list(_active)
    for proc in running:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
        except OSError:
            pass
    for proc in running:
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


def run_tests(exercise: Exercise, submission: Path, backend: str, limits: Limits, seed: int,
              suites: tuple[str, ...] = ("public", "hidden"), verbose: bool = False,
              only: list[str] | None = None) -> list[dict]:
    """Records of every test in `suites` (or of the test functions named in `only`), see
    `grader.judge.plugin`; raises `RuntimeError` when the test run itself broke (the platform's
    fault, not the student's)."""
    root = exercise.root.resolve()
    folders = test_folders(exercise, suites)
    if not folders:
        raise RuntimeError(f"exercise {exercise.slug} has no {' or '.join(suites)} tests folder")
    with tempfile.TemporaryDirectory(prefix="pgrader-job-") as tmp:
        tmp = Path(tmp)
        job = {
            "submission": str(Path(submission).resolve()),
            "module": exercise.module,
            "backend": backend,
            "limits": asdict(limits),
            "seed": seed,
            "report": str(tmp / "report.json"),
            "only": only,
            "gpu": exercise.runtime.gpu,
        }
        (tmp / "job.json").write_text(json.dumps(job))
        (tmp / "pytest.ini").write_text(PYTEST_INI)
        argv = [sys.executable, "-m", "pytest", "-c", str(tmp / "pytest.ini"),
                "--rootdir", str(root), "--confcutdir", str(root / "tests"),
                "-p", "no:cacheprovider", "-p", "grader.judge.plugin", "--grader-job",
                str(tmp / "job.json"), "-q" if verbose else "-qq", "--no-header",
                *map(str, folders)]
        # Only our plugin: pytest plugins installed in the venv (xdist, timeout, anyio...) are
        # not loaded (about 1.5 s per submission on a loaded 2-core machine; scripts/bench_scale.py).
        wait_log = tmp / "core-waits"  # seconds the run's requests waited for host cores
        env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1", "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1",
               cores.WAIT_LOG: str(wait_log)}
        budget = time_budget(limits, folders)
        with _active_lock:
            if stopping.is_set():
                raise RuntimeError("grading was interrupted before this submission's tests ran")
            proc = subprocess.Popen(argv, cwd=tmp, env=env, start_new_session=True,
                                    stdout=None if verbose else subprocess.PIPE,
                                    stderr=None if verbose else subprocess.STDOUT)
            _active.add(proc)
        try:
            out = _communicate(proc, budget, wait_log)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.communicate()
            raise RuntimeError(f"the test run did not finish within {budget:.0f} s "
                               "(not counting its waits for free cores)")
        except BaseException:
            os.killpg(proc.pid, signal.SIGTERM)  # Ctrl-C: the plugin removes its container
            proc.wait()
            raise
        finally:
            _active.discard(proc)
        report = tmp / "report.json"
        if not report.exists():
            tail = (out or b"").decode("utf-8", "replace")[-3000:]
            raise RuntimeError(f"the test run ended (exit {proc.returncode}) without a report:\n{tail}")
        return _checked(json.loads(report.read_text()), folders, only)


def _checked(report: dict, folders: list[Path], only: list[str] | None) -> list[dict]:
    """The report's test records; RuntimeError when the course's tests are broken or missing, so
    the submission counts as not graded rather than as "0 of 0 tests passed"."""
    broken = report.get("broken_test_files") or []
    if broken:
        first = broken[0]
        raise RuntimeError(f"the exercise's tests could not be loaded ({len(broken)} broken; "
                           f"an error in the course, not in the submission): {first['where']}: "
                           f"{first['error']}")
    if not report["tests"]:
        wanted = f"named {', '.join(only)} " if only else ""
        raise RuntimeError(f"no tests {wanted}were found in " + ", ".join(map(str, folders)))
    return report["tests"]


def _communicate(proc: subprocess.Popen, budget: float, wait_log: Path) -> bytes | None:
    """`proc`'s output once it ends; TimeoutExpired after `budget` s plus its waits for cores."""
    t0 = time.monotonic()
    while True:
        left = budget + cores.waited(wait_log) - (time.monotonic() - t0)
        try:
            return proc.communicate(timeout=max(left, 0.1))[0]
        except subprocess.TimeoutExpired:
            if budget + cores.waited(wait_log) <= time.monotonic() - t0:
                raise


def test_folders(exercise: Exercise, suites: tuple[str, ...] = ("public", "hidden")) -> list[Path]:
    root = exercise.root.resolve()
    return [root / "tests" / s for s in suites if (root / "tests" / s).is_dir()]


def time_budget(limits: Limits, folders: list[Path]) -> float:
    """Seconds a whole test run over `folders` may take before it counts as broken."""
    return 60 + limits.wall_seconds * 4 * max(1, _count_tests(folders))


def _count_tests(folders: list[Path]) -> int:
    return sum(p.read_text(errors="replace").count("\ndef test_") for f in folders
               for p in f.glob("test_*.py"))
