"""The warm pipeline keeps every submission's isolation (issue 16).

Test runs are forked from a warm parent and containers are started ahead of time, but a
submission still gets a container and a judge of its own: what one leaves behind (a process, a
file, a changed module, a full disk) never reaches the next one graded by the same process.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import textwrap
from pathlib import Path

import pytest

from conftest import require_docker
from store_class import make_course

ROOT = Path(__file__).resolve().parents[1]
GRADER = str(ROOT / ".venv" / "bin" / "grader")

LOOK = '''
import glob, json, os, shutil, time

def _strangers():
    """Processes of this uid in another session than this request's (its own are in its own)."""
    mine, found = os.getsid(0), 0
    for stat in glob.glob("/proc/[0-9]*/stat"):
        try:
            with open(stat) as f:
                fields = f.read().rsplit(")", 1)[1].split()
            if os.stat(os.path.dirname(stat)).st_uid == os.getuid() and int(fields[3]) != mine:
                found += 1
        except (OSError, ValueError, IndexError):
            pass
    return found


def look():
    """What this submission finds in its sandbox that it did not make itself."""
    markers = [p for p in ("/tmp/pg_left", "/dev/shm/pg_left", "../pg_left", "pg_left")
               if os.path.exists(p)]
    sleepers = _strangers()
    full = [d for d in ("/tmp", "/dev/shm", ".") if shutil.disk_usage(d).free < 8 * 2**20]
    return {"markers": markers, "sleepers": sleepers, "full": full,
            "json": "stdlib" if json.__file__.startswith(("/opt", "/usr")) else json.__file__}
'''

DIRTY = (
    LOOK
    + """

def _leave_everything():
    for path in ("/tmp/pg_left", "/dev/shm/pg_left", "pg_left"):
        open(path, "w").close()
    with open("json.py", "w") as f:  # a module that shadows the standard library's
        f.write("raise SystemExit('shadowed')\\n")
    if os.fork() == 0:  # a process outside the tree: new session, double fork
        os.setsid()
        if os.fork() == 0:
            time.sleep(600)
        os._exit(0)
    for _ in range(200):  # until it runs
        if look()["sleepers"]:
            break
        time.sleep(0.01)
    for folder in ("/tmp", "/dev/shm", "."):  # fill every writable disk to the last byte
        try:
            with open(os.path.join(folder, "pg_fill"), "wb") as f:
                while True:
                    f.write(b"x" * 2**20)
        except OSError:
            pass


_leave_everything()
"""
)

TEST = '''
from grader.testing import expect_equal


def test_world_is_clean(student):
    """the sandbox holds nothing an earlier submission left"""
    expect_equal(student.call("look"), {"markers": [], "sleepers": 0, "full": [], "json": "stdlib"},
                 "look()")
'''


@pytest.mark.docker
@pytest.mark.parametrize("jobs", [1, 2])
def test_nothing_left_by_one_submission_reaches_the_next(tmp_path, jobs):
    require_docker()
    make_course(tmp_path)
    tests = tmp_path / "exercises" / "tiny" / "tests"
    for suite in ("public", "hidden"):
        for old in (tests / suite).glob("test_*.py"):
            old.unlink()
    (tests / "hidden" / "test_hidden.py").write_text(textwrap.dedent(TEST))
    subs = tmp_path / "subs"
    subs.mkdir()
    # Graded in name order: every clean one after a dirty one, in the same grading process.
    for i in range(3):
        (subs / f"s{i}a_dirty.py").write_text(DIRTY)
        (subs / f"s{i}b_clean.py").write_text(LOOK)
    proc = subprocess.run(
        [
            GRADER,
            "grade-all",
            "tiny",
            "subs",
            "--out",
            "out",
            "--backend",
            "docker",
            "-j",
            str(jobs),
            "--no-store",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "PGRADER_WARM_CONTAINERS": "2"},
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    seen = {}
    for results in (tmp_path / "out").glob("*/results.json"):
        data = json.loads(results.read_text())
        seen[data["pgrader"]["student"]] = data
    assert len(seen) == 6, sorted(seen)
    for name, data in seen.items():
        test = next(t for t in data["tests"] if t["function"] == "test_world_is_clean")
        if name.endswith("b_clean"):
            assert test["verdict"] == "passed", (name, test["message"])
        else:  # the leftovers were really made: the dirty one sees its own
            seen = test["message"] + " " + str((test.get("details") or {}).get("got", ""))
            assert test["verdict"] == "failed", (name, seen)
            assert "/tmp/pg_left" in seen and "/dev/shm/pg_left" in seen, seen
            assert re.search(r"'sleepers': [1-9]", seen), seen


STATEFUL = '''
import json
import os

IMPORTED_BY = os.getpid()  # the process that ran this module's top level
SEEN = []


def test_module_state_is_fresh():
    """nothing an earlier submission's run changed in a test module or a library is seen"""
    assert SEEN == [] and not hasattr(json, "pg_left"), (SEEN, getattr(json, "pg_left", None))
    SEEN.append(os.getpid())
    json.pg_left = os.getpid()


def test_module_was_preloaded():
    """the module was imported by the warm parent, not by this run"""
    assert IMPORTED_BY != os.getpid()


def test_version():
    assert VERSION == 1
'''


def _statuses(course_root: Path, submission: Path) -> dict:
    from grader.course import load_course
    from grader.judge.runner import run_tests

    exercise = load_course(course_root).exercise("tiny")
    run = run_tests(exercise, submission, "local", exercise.limits, seed=7)
    return {r.function: (r.status, r.message) for r in run.records}


def test_preloaded_test_modules_are_fresh_in_every_run(tmp_path):
    """The warm parent imports an exercise's test modules once; each run gets its own copy of
    them, so module-level state one submission's run changes (the test module's globals, an
    attribute set on a library module) is never seen by the next run of the same process, and
    an edited test file is imported again."""
    make_course(tmp_path)
    tests = tmp_path / "exercises" / "tiny" / "tests"
    for old in tests.rglob("test_*.py"):
        old.unlink()
    test_file = tests / "hidden" / "test_state.py"
    test_file.write_text(STATEFUL + "\nVERSION = 1\n")
    sub = tmp_path / "solution.py"
    sub.write_text("def add(a, b):\n    return a + b\n")
    passed = {
        "test_module_state_is_fresh": ("passed", ""),
        "test_module_was_preloaded": ("passed", ""),
        "test_version": ("passed", ""),
    }
    for _ in range(3):
        got = _statuses(tmp_path, sub)
        assert {k: (s, "") for k, (s, _m) in got.items()} == passed, got
    test_file.write_text(STATEFUL + "\nVERSION = 2\n")  # the course edits its tests
    got = _statuses(tmp_path, sub)
    assert got["test_version"][0] == "failed", got
    assert got["test_module_state_is_fresh"][0] == "passed", got
    assert got["test_module_was_preloaded"][0] == "passed", got


def test_a_test_module_that_cannot_be_preloaded_is_imported_by_its_run(tmp_path):
    """A test module whose import fails in the warm parent is left to the run, which reports the
    course's broken test file as before (never a score), and the server goes on serving."""
    make_course(tmp_path)
    tests = tmp_path / "exercises" / "tiny" / "tests"
    for old in tests.rglob("test_*.py"):
        old.unlink()
    test_file = tests / "hidden" / "test_broken.py"
    test_file.write_text("raise RuntimeError('a broken course file')\n")
    sub = tmp_path / "solution.py"
    sub.write_text("def add(a, b):\n    return a + b\n")
    from grader.errors import PlatformError

    with pytest.raises(PlatformError, match="a broken course file"):
        _statuses(tmp_path, sub)
    test_file.write_text(STATEFUL + "\nVERSION = 1\n")
    got = _statuses(tmp_path, sub)
    assert {k: s for k, (s, _m) in got.items()} == dict.fromkeys(got, "passed"), got


# ---------------------------------------------------------------- the template's preloads


def test_the_template_preloads_numpy_only_for_the_exercises_that_import_it(tmp_path):
    """Importing numpy costs every container about 55 ms of CPU and every request a larger
    template to fork: it is preloaded where the exercise's own files (skeleton, tests) import
    it, nowhere else; a library the template may not preload is refused."""
    from grader.agent import spawn
    from grader.sandbox import preload

    assert preload.for_exercise(ROOT / "exercises" / "locked_counter") == ()
    assert preload.for_exercise(ROOT / "exercises" / "shared_state") == ("numpy",)
    probe_only = tmp_path / "probe_only"
    (probe_only / "tests" / "hidden").mkdir(parents=True)
    (probe_only / "tests" / "hidden" / "test_x.py").write_text(
        "def _probe(module):\n    from numpy.random import default_rng\n"
    )
    (probe_only / "skeleton").mkdir()
    (probe_only / "skeleton" / "solution.py").write_text("def f(:\n")  # unparsable: ignored
    assert preload.for_exercise(probe_only) == ("numpy",)
    with pytest.raises(ValueError, match="may preload"):
        spawn.Template({}, ("os",))


@pytest.mark.docker
def test_a_box_template_has_numpy_exactly_when_asked(tmp_path, docker_backend):
    """End to end: `--preload numpy` reaches the template, whose forked agents have numpy
    already imported; without it, an agent of a submission that does not import numpy has none."""
    from grader.agent import codec
    from grader.course import Limits
    from grader.protocol import Request
    from grader.sandbox.docker import Box, DockerSession

    folder = tmp_path / "sub"
    folder.mkdir()
    (folder / "solution.py").write_text("X = 1\n")
    probe = {
        "source": "def p(m):\n    import sys\n    return 'numpy' in sys.modules\n",
        "name": "p",
    }
    for preload, expected in (((), False), (("numpy",), True)):
        box = Box(docker_backend.client, docker_backend.image_id, Limits(), preload=preload)
        session = DockerSession(box, folder)
        try:
            reply = session.call(Request(kind="run", module="solution", probe=probe).to_wire())
            assert reply["status"] == "ok", reply
            assert codec.decode(reply["value"]) is expected
        finally:
            session.close()


def test_prefill_starts_a_batchs_first_containers_before_its_first_take(docker_backend):
    """`WarmPool.prefill` (what a batch's `warm_up` calls) starts the kind's boxes in the
    background, so the first submission takes a started box instead of starting one itself."""
    from grader.course import Limits
    from grader.sandbox.pool import WarmPool

    pool = WarmPool(docker_backend.client, size=1)
    try:
        pool.prefill(Limits())
        [started] = pool._ready[pool._key(Limits(), ())]
        started.result(timeout=120)

        def no_start_on_the_critical_path(*args):
            raise AssertionError("take started a box itself")

        pool._start = no_start_on_the_critical_path  # type: ignore[method-assign]
        pool._refill = lambda *args: None  # type: ignore[method-assign]
        box = pool.take(Limits())
        assert box is started.result()
        pool.discard(box)
    finally:
        pool.close()


def test_a_batch_without_the_store_does_not_import_it():
    """`grade-all --no-store` (and the portal-less batch) never pays for the store's SQLAlchemy
    and Alembic imports (about 0.3 CPU-s per command on this machine)."""
    code = "import sys, grader.batch, grader.cli; print(sorted(m for m in sys.modules if m.split('.')[0] in ('sqlalchemy', 'alembic', 'grader') and m.split('.')[-1] in ('sqlalchemy', 'alembic', 'recorded', 'store')))"
    out = subprocess.run(
        [str(ROOT / ".venv" / "bin" / "python"), "-c", code],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert out == "[]", out
