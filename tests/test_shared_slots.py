"""Batches graded at the same time (the demo's exercises) share one bound on the submissions
graded at once: `grade_entries(..., slots=)`."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from grader import entries
from grader.course import load_course
from grader.entries import Entry, grade_entries

ROOT = Path(__file__).resolve().parents[1]


def _fake_grading(monkeypatch):
    """Every grading takes 50 ms; returns a function giving the most run at once."""
    lock, state = threading.Lock(), {"now": 0, "most": 0}

    class Result:
        platform_failed = not_graded = False
        graded = True

    def grade(*args, **kwargs):
        with lock:
            state["now"] += 1
            state["most"] = max(state["most"], state["now"])
        time.sleep(0.05)
        with lock:
            state["now"] -= 1
        return Result()

    monkeypatch.setattr(entries, "grade_submission", grade)
    monkeypatch.setattr(entries, "write_outputs", lambda *a, **k: None)
    return lambda: state["most"]


def _three_batches(tmp_path, slots):
    course = load_course(ROOT)
    exercise = course.exercise("locked_counter")
    todo = [Entry(f"s{i}", tmp_path) for i in range(4)]

    def batch(n):
        return grade_entries(
            course,
            exercise,
            todo,
            tmp_path / str(n),
            backend="local",
            jobs=2,
            progress=False,
            slots=slots,
        )

    with ThreadPoolExecutor(3) as pool:
        return list(pool.map(batch, range(3)))


def test_shared_slots_bound_the_gradings_across_batches(tmp_path, monkeypatch):
    most = _fake_grading(monkeypatch)
    results = _three_batches(tmp_path, threading.Semaphore(2))
    assert all(
        len(rows) == 4 and {r.status for r in rows.values()} == {"graded"} for rows in results
    )
    assert most() == 2


def test_without_slots_each_batch_has_its_own_jobs(tmp_path, monkeypatch):
    most = _fake_grading(monkeypatch)
    _three_batches(tmp_path, None)
    assert most() > 2
