"""`grader grade-all --distributed`: one job per submission to the queues, results recorded here.

The submitter owns the store: it records each result exactly as the local path does
(`grader.recorded.grade_recorded`; the store's uniqueness keeps a grading that arrives twice
from counting twice) and writes results.json, feedback.html and the gradebook. It polls the
result store. A result already stored under a job's id (by an interrupted run) is used
without sending the job again, and a job such a run left running is waited for. When nothing
has moved for `resend_after` seconds, the jobs no worker holds (lost with the broker) are
sent again under the same ids (a job whose worker vanished comes back by the broker's
visibility timeout, a running one is left alone); a job whose task broke (a FAILURE state,
e.g. Redis gone while it stored its state) is sent again at once. After `resends` extra
sends a job is reported not graded (retryable). The late policy is applied here, from the
stored received time, whatever the worker's course.toml says.
"""

from __future__ import annotations

import hashlib
import sys
import time
from functools import partial
from pathlib import Path

from celery import states

from grader.course import Course, Exercise
from grader.distributed.app import load_settings, make_app, visibility_for
from grader.distributed.jobs import job_id, pack
from grader.distributed.routing import queue_for
from grader.distributed.tasks import TASK
from grader.entries import Entry, Progress, Row, grade_entries
from grader.errors import GraderError, SubmissionError
from grader.grade import write_outputs
from grader.recorded import grade_recorded
from grader.results import SubmissionResult, apply_late_policy, late_days

POLL_SECONDS = 0.25
CONNECT_SECONDS = 30.0  # how long a first contact or a send waits for an unreachable Redis


def grade_distributed(
    course: Course,
    exercise: Exercise,
    entries: list[Entry],
    out: Path,
    store,
    *,
    settings=None,
    regrade: bool = False,
    seed: int | None = None,
    progress: bool = True,
):
    """Grade `entries` on the workers and record them in `store`; a `recorded.Outcome`."""
    settings = settings or load_settings(course)
    visibility = visibility_for([exercise], settings)
    app = make_app(settings, visibility)
    namespace = store_namespace(store.url)

    def bind(request):
        key = request.id if request.kind == "regrade" else "current"
        return partial(collect, app, settings, namespace, key, settings.resend_after or visibility)

    try:
        return grade_recorded(
            course,
            exercise,
            entries,
            out,
            store,
            kind="regrade" if regrade else "grade-all",
            backend="distributed",
            seed=seed,
            progress=progress,
            sandbox_info={"backend": "distributed"},
            grade_with=bind,
        )
    finally:
        app.close()


def store_namespace(url: str) -> str:
    """What job ids of one store share (so two stores never mix up their jobs' results)."""
    return hashlib.sha256(url.encode()).hexdigest()[:16]


def collect(
    app,
    settings,
    namespace: str,
    request_key: str,
    resend_after: float,
    course: Course,
    exercise: Exercise,
    todo: list[Entry],
    out: Path,
    *,
    record=None,
    seed: int | None = None,
    progress: bool = True,
    **_local,
) -> dict[str, Row]:
    """Grade `todo` on the workers: `grader.entries.grade_entries`' contract (rows by student)."""
    queue = queue_for(exercise)
    bar = Progress(len(todo), progress)
    rows: dict[str, Row] = {}
    waiting: dict[str, Entry] = {}
    backend = app.backend
    _reach(backend, settings.results_url)

    def finish(jid: str, meta: dict) -> None:
        entry = waiting.pop(jid)
        try:
            row = _row(course, exercise, entry, meta, out, record)
        except (
            KeyError,
            TypeError,
            ValueError,
            AttributeError,
        ) as exc:  # a worker of another version
            backend.forget(jid)  # the next run sends it again
            row = Row(
                entry.key,
                None,
                "not-graded",
                f"retryable, the worker's result is malformed ({type(exc).__name__}: {exc})",
            )
        rows[entry.key] = row
        bar.step(entry.key)

    def send(jid: str, message: dict | None = None) -> None:
        entry = waiting[jid]
        if message is None:
            message = pack(exercise, course.name, entry.student, entry.path, entry.received, seed)
        deadline = time.monotonic() + CONNECT_SECONDS
        while True:
            try:
                app.send_task(TASK, args=[message], task_id=jid, queue=queue)
                return
            except Exception as exc:  # noqa: BLE001 - any broker failure: wait, then give up
                if time.monotonic() > deadline:
                    raise GraderError(
                        f"the broker {_safe(settings.broker)} did not take the job of "
                        f"{entry.student} within {CONNECT_SECONDS:g} s: {exc}; "
                        "what was graded is recorded: rerun to go on"
                    ) from None
                time.sleep(1.0)

    refused: list[Entry] = []
    for entry in todo:
        try:
            message = pack(exercise, course.name, entry.student, entry.path, entry.received, seed)
        except SubmissionError:
            refused.append(entry)
            continue
        jid = job_id(
            namespace, exercise.slug, entry.key, message["content"], f"{request_key} seed {seed}"
        )
        waiting[jid] = entry
        meta = _metas(backend, [jid]).get(jid)
        if meta is not None and _graded(meta):
            finish(jid, meta)
        elif meta is None or meta["status"] in states.READY_STATES:
            if meta is not None:  # a failure stored by an earlier run: grade it again
                backend.forget(jid)
            send(jid, message)
        # else an interrupted run's job, running or waiting to retry: waited for, not sent again
    if refused:  # intake's reason, scored here exactly as on the local path (nothing runs)
        graded_here = grade_entries(
            course,
            exercise,
            refused,
            out,
            backend="local",
            jobs=1,
            seed=seed,
            progress=False,
            record=record,
        )
        rows.update(graded_here)
        for student in graded_here:
            bar.step(student)
    seen: dict[str, str | None] = {}  # each job's state at the last poll (None: no worker has it)
    sends = dict.fromkeys(waiting, 1)
    moved, away = time.monotonic(), False
    while waiting:
        time.sleep(POLL_SECONDS)
        try:
            metas = _metas(backend, list(waiting))
        except Exception as exc:  # noqa: BLE001 - the result store is away for a while
            if not away:
                print(
                    f"\ngrader: the result store does not answer ({type(exc).__name__}); "
                    "waiting for it",
                    file=sys.stderr,
                )
            away = True
            continue
        away = False
        for jid in list(waiting):
            status = metas[jid]["status"] if jid in metas else None
            if status == states.FAILURE and sends[jid] <= settings.resends:
                # the task itself broke (e.g. Redis went away under it): the platform's fault
                backend.forget(jid)
                sends[jid] += 1
                send(jid)
                status = None
            elif status in states.READY_STATES:
                finish(jid, metas[jid])
                moved = time.monotonic()
                continue
            if seen.get(jid, "") != status:
                seen[jid] = status
                moved = time.monotonic()
        if waiting and time.monotonic() - moved > resend_after:
            # jobs no worker holds were lost with the broker; a running one (or one whose
            # worker vanished, handed out again after the visibility timeout) is left alone
            for jid in [j for j in waiting if seen.get(j) is None]:
                if sends[jid] > settings.resends:
                    entry = waiting.pop(jid)
                    rows[entry.key] = Row(
                        entry.key,
                        None,
                        "not-graded",
                        f"retryable, no worker took the job after "
                        f"{sends[jid]} sends to the {queue!r} queue",
                    )
                    bar.step(entry.key)
                    continue
                sends[jid] += 1
                send(jid)
            moved = time.monotonic()
    return rows


def _metas(backend, ids: list[str]) -> dict[str, dict]:
    return backend.metas(ids) if ids else {}


def _reach(backend, url: str) -> None:
    """Wait for the result store to answer; a clear error if it stays unreachable."""
    deadline = time.monotonic() + CONNECT_SECONDS
    while True:
        try:
            backend.client.ping()
            return
        except Exception as exc:  # noqa: BLE001 - any failure to reach Redis
            if time.monotonic() > deadline:
                raise GraderError(
                    f"the result store {_safe(url)} does not answer within "
                    f"{CONNECT_SECONDS:g} s ({exc}); start redis-server there or "
                    "give another URL (--broker, [distributed] in course.toml)"
                ) from None
            time.sleep(1.0)


def _safe(url: str) -> str:
    from kombu.utils.url import maybe_sanitize_url

    return maybe_sanitize_url(url)


def _graded(meta: dict) -> bool:
    result = meta.get("result")
    return (
        meta.get("status") == states.SUCCESS
        and isinstance(result, dict)
        and result.get("status") == "graded"
    )


def _row(course: Course, exercise: Exercise, entry: Entry, meta: dict, out: Path, record) -> Row:
    """A finished job's row; a graded result is recorded, then its outputs written."""
    result = meta.get("result")
    if _graded(meta) and isinstance(result, dict):  # (_graded checks it is)
        graded = SubmissionResult.from_json(result["result"])
        apply_late_policy(
            graded, course.late_policy, late_days(entry.received, entry.exercise(exercise).due)
        )
        if record is not None:
            record(entry, graded)
        write_outputs(graded, exercise, out / entry.key)
        return Row(entry.key, graded, "graded")
    if meta.get("status") == states.SUCCESS and isinstance(result, dict):
        problem = str(result.get("problem", ""))
        return Row(
            entry.key,
            None,
            "not-graded",
            f"retryable, {problem}" if result.get("retryable") else problem,
        )
    if isinstance(result, dict) and "exc_type" in result:
        problem = f"{result.get('exc_type')}: {result.get('exc_message')}"
    else:
        problem = str(result)
    return Row(
        entry.key,
        None,
        "not-graded",
        f"retryable, the worker failed ({meta.get('status')}): {problem}"[:1000],
    )
