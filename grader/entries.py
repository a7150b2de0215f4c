"""A class's submissions, one entry per student, and grading them several at once.

`discover` finds the entries of a submissions folder (a folder, a `.zip`, a `.py` or a
`.ipynb` named after the student; `received.csv` gives the times the late policy uses);
`grade_entries` grades them on threads, retrying what the platform spoilt, and writes each
student's outputs; `write_gradebook` sums them up. `grader.batch` and `grader.recorded` (with the
store) and `grader.distributed.submit` (on workers) drive it.
"""

from __future__ import annotations

import csv
import datetime as dt
import os
import sys
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, replace
from pathlib import Path

from tqdm import tqdm

from grader.course import Course, Exercise
from grader.grade import GradingFailed, grade_submission, write_outputs
from grader.judge import runner
from grader.results import SubmissionResult
from grader.sandbox import docker_available, engine
from grader.states import GRADED, REFUSED, retry_note

GRADEBOOK_FIELDS = ["student", "score", "max", "late_days", "penalty", "final", "status"]
IGNORED = {"received.csv", "expected.csv"}


@dataclass
class Row:
    student: str
    result: SubmissionResult | None
    status: str  # graded, skipped (already graded), not-graded (platform failure: not graded yet)
    problem: str = ""
    retryable: bool = False  # not graded because the Docker engine did not answer


def discover(submissions: Path) -> dict[str, Path]:
    """Student name -> submission path, sorted by name."""
    found = {}
    for entry in sorted(submissions.iterdir()):
        if entry.name.startswith(".") or entry.name in IGNORED:
            continue
        if entry.is_dir() or entry.suffix in (".zip", ".py", ".ipynb"):
            found[entry.stem if entry.is_file() else entry.name] = entry
    return found


def received_times(submissions: Path, zone: dt.tzinfo = dt.UTC) -> dict[str, dt.datetime]:
    """received.csv's times; one without an offset is in `zone` (the course's time zone)."""
    path = submissions / "received.csv"
    if not path.exists():
        return {}
    times = {}
    with path.open(newline="") as f:
        for row in csv.DictReader(f):
            when = dt.datetime.fromisoformat(row["received"].strip().replace("Z", "+00:00"))
            times[row["student"].strip()] = when if when.tzinfo else when.replace(tzinfo=zone)
    return times


class Progress:
    """grade-all's progress bar on stderr (tqdm): done/total, rate, time left, the last one done."""

    def __init__(self, total: int, enabled: bool = True):
        self.bar = tqdm(
            total=total,
            disable=not (enabled and total > 0),
            file=sys.stderr,
            unit="sub",
            dynamic_ncols=True,
        )
        self.lock = threading.Lock()

    def step(self, label: str) -> None:
        with self.lock:
            self.bar.set_postfix_str(label[:24], refresh=False)
            self.bar.update(1)
            if self.bar.n >= (self.bar.total or 0):
                self.bar.close()


@dataclass
class Entry:
    """One submission to grade: who, where, when it was received (None: on time), the
    student's own due date (None: the exercise's), and the key its row and output folder go
    under (default: the student; one of several attempts of a student: `student/attempt-N`)."""

    student: str
    path: Path
    received: dt.datetime | None = None
    due: dt.datetime | None = None
    key: str = ""

    def __post_init__(self):
        self.key = self.key or self.student

    def exercise(self, exercise: Exercise) -> Exercise:
        """`exercise` with this student's due date (an extension)."""
        return replace(exercise, due=self.due) if self.due else exercise


def entries_in(submissions: Path, zone: dt.tzinfo = dt.UTC) -> list[Entry]:
    received = received_times(submissions, zone)
    return [Entry(name, path, received.get(name)) for name, path in discover(submissions).items()]


def grade_entries(
    course: Course,
    exercise: Exercise,
    todo: list[Entry],
    out: Path,
    *,
    backend: str,
    jobs: int | None = None,
    seed: int | None = None,
    progress: bool = True,
    sandbox_info: dict | None = None,
    record: Callable[[Entry, SubmissionResult], None] | None = None,
    slots: threading.Semaphore | None = None,
) -> dict[str, Row]:
    """Grade `todo` on `jobs` threads; `record` (if given) is called before the outputs are written.
    `slots`, shared by batches graded at once (the demo's exercises), bounds the submissions
    graded at a time across all of them."""
    jobs = jobs or max(1, os.cpu_count() or 1)
    bar = Progress(len(todo), progress)
    rows: dict[str, Row] = {}

    def attempt(entry: Entry) -> tuple[SubmissionResult | None, str]:
        try:
            return grade_submission(
                course,
                entry.exercise(exercise),
                entry.path,
                student=entry.student,
                backend=backend,
                seed=seed,
                received=entry.received,
                sandbox_info=sandbox_info,
            ), ""
        except GradingFailed as exc:
            return None, str(exc)
        except Exception as exc:  # noqa: BLE001 - one submission must never stop the batch
            return None, f"{type(exc).__name__}: {exc}"[:500]

    def one(entry: Entry) -> Row:
        if slots is None:
            return graded(entry)
        with slots:
            return graded(entry)

    def graded(entry: Entry) -> Row:
        name = entry.key
        docker = backend == "docker"
        for _ in range(2):  # a grading the platform spoilt (the engine away for a while, a
            # sandbox it broke) is done once more, in a fresh container, once the engine answers
            if docker and not engine.wait_for_engine(stop=runner.stopping):
                return Row(name, None, "not-graded", engine.down_message(), retryable=True)
            result, problem = attempt(entry)
            failed = result is None or result.platform_failed
            if not (failed and docker) or runner.stopping.is_set():
                break
        if failed and docker and not docker_available():
            return Row(name, None, "not-graded", engine.down_message(), retryable=True)
        if result is None:
            return Row(name, None, "not-graded", problem)
        if record is not None and result.graded:
            record(entry, result)
        status = "graded" if not result.platform_failed else "not-graded"
        try:
            write_outputs(result, exercise, out / name)
        except Exception as exc:  # noqa: BLE001 - one student's files never stop the batch
            return Row(
                name,
                result,
                status,
                f"its results.json/feedback.html could not be written: {type(exc).__name__}: {exc}"[
                    :500
                ],
            )
        if result.not_graded:  # e.g. needs a GPU: graded again where one exists
            return Row(name, result, "not-graded", result.not_graded, retryable=True)
        return Row(name, result, status)

    if todo:
        runner.warm_up(exercise, backend)
    pool = ThreadPoolExecutor(max_workers=jobs)
    futures: dict = {}
    try:
        futures.update({pool.submit(one, entry): entry.key for entry in todo})
        for future in as_completed(futures):
            row = future.result()
            rows[row.student] = row
            bar.step(row.student)
    except BaseException:
        pool.shutdown(wait=False, cancel_futures=True)
        runner.terminate_all()
        pool.shutdown(wait=True)  # the runs in progress end now, none starts
        runner.stopping.clear()  # a long-lived process (portal, worker) may grade again later
        for future in futures:
            if future.done() and not future.cancelled() and future.exception() is None:
                rows.setdefault(future.result().student, future.result())
        finished = sorted(r.student for r in rows.values() if r.status == "graded")
        sys.stderr.write(
            f"\ngrader: stopped after grading {len(finished)} of {len(todo)}"
            + (f" ({', '.join(finished)[:2000]})" if finished else "")
            + "; the next run grades the rest.\n"
        )
        raise
    pool.shutdown()
    return rows


def write_gradebook(path: Path, rows: list[Row], exercise: Exercise) -> None:
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(GRADEBOOK_FIELDS)
        for row in rows:
            r = row.result
            if r is None or r.not_graded:  # e.g. needs a GPU: never a number
                w.writerow([row.student, "", exercise.points, "", "", "", retry_note(row.problem)])
                continue
            status = (
                retry_note("the platform failed")
                if r.platform_failed
                else (f"{REFUSED}: {r.error}" if r.error else GRADED)
            )
            w.writerow(
                [
                    row.student,
                    f"{r.raw_score:g}",
                    f"{r.max_score:g}",
                    r.late_days,
                    f"{r.penalty:g}",
                    f"{r.score:g}",
                    status,
                ]
            )
