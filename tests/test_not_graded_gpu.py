"""No score without the hardware: an exercise whose tests need a GPU, graded where there is none,
is "not graded yet: needs a GPU" in results.json, feedback.html, the gradebook, every export and
the portal, never a number; it is not recorded as a grading, so a later run (on a GPU machine,
or a GPU worker) grades it; and a worker without a GPU refuses the gpu queue."""

from __future__ import annotations

import csv
import datetime as dt
import json
import types

import pytest
from markupsafe import escape

import grader.grade
from grader.batch import grade_all
from grader.course import load_course
from grader.export import export
from grader.grade import grade_submission, write_outputs
from grader.results import NEEDS_GPU, SubmissionResult
from grader.store import open_store
from store_class import make_class, make_course

NO_GPU = "not run: no GPU on this grading machine"
NOW = dt.datetime(2026, 9, 1, tzinfo=dt.UTC)


def _gpu_course(root):
    make_course(root)
    toml = root / "exercises" / "tiny" / "exercise.toml"
    toml.write_text(toml.read_text() + "\n[runtime]\ngpu = true\n")
    return load_course(root)


def _runs_without_gpu(
    exercise, submission, backend, limits, seed, suites=(), verbose=False, only=None
):
    """The compile-like test runs anywhere; the kernel test could not run (no GPU)."""
    from grader.judge.runner import TestRun
    from grader.protocol import TestRecord

    return TestRun(
        [
            TestRecord(
                nodeid="k",
                name="kernels compile",
                function="test_kernels_compile",
                visibility="public",
                status="passed",
                message="",
                details={},
                duration=0.1,
                seed=seed,
            ),
            TestRecord(
                nodeid="v",
                name="values on the GPU",
                function="test_values",
                visibility="hidden",
                status="not-run",
                message=NO_GPU,
                details={},
                duration=0.0,
                seed=seed,
            ),
        ]
    )


@pytest.fixture
def gpu_class(tmp_path, monkeypatch):
    course = _gpu_course(tmp_path)
    make_class(tmp_path / "subs", {"alice": "good", "bob": "bad"})
    monkeypatch.setattr(grader.grade, "run_tests", _runs_without_gpu)
    return course, course.exercise("tiny"), tmp_path


def test_result_is_not_graded_never_a_number(gpu_class):
    course, exercise, tmp = gpu_class
    result = grade_submission(course, exercise, tmp / "subs" / "alice.py", backend="local")
    assert result.not_graded == NEEDS_GPU and not result.graded
    data = result.to_json()
    assert data["score"] is None and data["pgrader"]["raw_score"] is None
    assert data["pgrader"]["not_graded"] == NEEDS_GPU
    assert data["output"].startswith("Not graded yet: needs a GPU.")
    assert "Of the 1 checks that run anywhere, 1 passed." in data["output"]
    again = SubmissionResult.from_json(json.loads(json.dumps(data)))
    assert again.not_graded == NEEDS_GPU
    write_outputs(result, exercise, tmp / "out")
    html = (tmp / "out" / "feedback.html").read_text()
    assert "not graded" in html and "needs a GPU" in html and 'aria-label="Final score"' not in html


def test_a_cpu_exercise_with_a_not_run_test_is_still_graded(gpu_class, monkeypatch):
    """Only an exercise that declares a GPU is held back; elsewhere a not-run test scores 0."""
    course, exercise, tmp = gpu_class
    cpu = exercise.__class__(
        **{
            **exercise.__dict__,
            "runtime": types.SimpleNamespace(
                gpu=False, mpi_ranks=(), celery=False, needs=lambda: []
            ),
        }
    )
    result = grade_submission(course, cpu, tmp / "subs" / "alice.py", backend="local")
    assert result.graded and result.to_json()["score"] == pytest.approx(5.0)


def test_batch_gradebook_and_exports_say_not_graded(gpu_class):
    course, exercise, tmp = gpu_class
    with open_store(course) as store:
        rows = grade_all(
            course,
            exercise,
            tmp / "subs",
            tmp / "out",
            backend="local",
            progress=False,
            store=store,
        )
        assert [(r.student, r.status, r.problem, r.retryable) for r in rows] == [
            ("alice", "not-graded", NEEDS_GPU, True),
            ("bob", "not-graded", NEEDS_GPU, True),
        ]
        assert all(c.grading is None for c in store.counted(exercise))  # never recorded as a grade
        book = list(csv.DictReader((tmp / "out" / "gradebook.csv").open()))
        assert [(r["score"], r["final"], r["status"]) for r in book] == [
            ("", "", "not graded yet: needs a GPU")
        ] * 2
        assert json.loads((tmp / "out" / "alice" / "results.json").read_text())["score"] is None

        export("gradebook", course, exercise, store, tmp / "gb.csv")
        book = list(csv.DictReader((tmp / "gb.csv").open()))
        assert [(r["final"], r["status"]) for r in book] == [
            ("", "not graded yet: needs a GPU")
        ] * 2
        export("canvas", course, exercise, store, tmp / "canvas.csv")
        assert [row[-1] for row in csv.reader((tmp / "canvas.csv").open())][2:] == ["", ""]
        said = export("gradescope", course, exercise, store, tmp / "gs")
        assert said.startswith("0 results.json") and "alice (needs a GPU)" in said
        export("report", course, exercise, store, tmp / "report.html")
        assert "alice (needs a GPU)" in (tmp / "report.html").read_text()


def test_portal_attempt_says_needs_gpu_or_waiting(gpu_class):
    """A portal attempt graded here (no GPU) is *not graded yet: needs a GPU* on its page, in the
    attempt list and in the status poll, never a number, and is not retried until a server
    starts again; with a broker, a queued attempt waits for a GPU worker."""
    from grader.portal.accounts import import_roster, open_session
    from grader.portal.app import Portal, create_app
    from grader.portal.auth import COOKIE
    from grader.portal.jobs import Grader
    from grader.portal.live import LiveCourse
    from grader.portal.models import NOT_GRADED, Account
    from grader.states import NEEDS_GPU_MEANING

    course, exercise, tmp = gpu_class
    with open_store(course) as store:
        import_roster(
            store,
            [
                {
                    "login": "alice",
                    "name": "Alice",
                    "email": "",
                    "role": "student",
                    "password": "alice-pass-1",
                }
            ],
        )
        with store._tx() as s:
            account = s.query(Account).filter_by(login="alice").one()
        token = open_session(store, account, 1)
        grader_ = Grader(LiveCourse(course), store, "local", {}, workers=1)

        def attempt(number):
            sub = store.record_submission(
                "alice",
                "tiny",
                f"hash{number}",
                received_at=NOW,
                late_days=0,
                path=str(tmp / "subs" / "alice.py"),
            )
            assert sub.attempt == number
            return grader_.jobs.create("upload", "tiny", [("alice", sub)])[0]

        job = attempt(1)
        grader_.run(grader_.jobs.claim(grader_.owner))
        job = grader_.jobs.get(job.id)
        assert (job.status, job.problem, job.retry_at) == (NOT_GRADED, NEEDS_GPU, None)
        assert grader_.jobs.claim(grader_.owner) is None  # not retried here...
        assert all(c.grading is None for c in store.counted(exercise))  # ...nor ever a grade

        client = create_app(
            Portal(LiveCourse(course), store, grader_, tmp / "up", tmp / "b")
        ).test_client()
        client.set_cookie(COOKIE, token)
        page = client.get("/exercises/tiny/attempts/1").get_data(as_text=True)
        assert 'id="needs-gpu"' in page and str(escape(NEEDS_GPU_MEANING)) in page
        assert 'id="score"' not in page and 'id="not-graded-yet"' not in page
        listing = client.get("/exercises/tiny").get_data(as_text=True)
        row = listing[listing.index('data-attempt="1"') :]
        row = row[: row.index("</tr>")]
        assert "needs a GPU" in row and '<td class="score"></td>' in row
        assert client.get("/api/exercises/tiny/attempts/1").get_json() == {
            "status": "not graded yet",
            "score": None,
            "max": None,
            "regrading": False,
        }

        attempt(2)  # queued; with a broker it waits for a GPU worker
        assert "waiting for a GPU worker" not in client.get("/exercises/tiny/attempts/2").get_data(
            as_text=True
        )
        grader_.remote = object()
        page = client.get("/exercises/tiny/attempts/2").get_data(as_text=True)
        assert 'id="waiting"' in page and "waiting for a GPU worker" in page
        assert 'id="needs-gpu"' not in page


def test_a_worker_without_a_gpu_refuses_the_gpu_queue(tmp_path, monkeypatch, capsys):
    from grader.cli import main

    make_course(tmp_path)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PGRADER_NO_GPU", "1")
    from grader.sandbox import gpu

    gpu.host_has_gpu.cache_clear()
    try:
        assert main(["worker", "--queues", "cpu,gpu", "--broker", "redis://127.0.0.1:1/0"]) == 2
        assert "no usable NVIDIA GPU" in capsys.readouterr().err
    finally:
        gpu.host_has_gpu.cache_clear()
