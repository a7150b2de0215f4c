"""The blocked time of short event-loop steps, added up per task and per line
(grader.checks.asyncio_blocked): the arithmetic, the sums and the /proc readings. The check in a
real agent process is tested in tests/test_asyncio_checks.py."""

from __future__ import annotations

import os
import threading
import time

import pytest

from grader.checks.asyncio_blocked import (
    BlockedSums,
    OtherThreads,
    ThreadClock,
    blocked_seconds,
    open_task_dir,
)

SLOW = 0.05
SLEEP = ("/w/solution.py", 9, "one", True)
AWAIT = ("/w/solution.py", 10, "one", True)
LIBRARY = ("/usr/lib/python3.11/queue.py", 171, "get", False)


def frame(filename, line, function):
    return {"file": os.path.basename(filename), "line": line, "name": function, "code": "x()"}


def about(coro="one", task="Task-2", student=True):
    return {"coro": coro, "task": task, "student": student}


def sums_of(*steps) -> list[dict]:
    sums = BlockedSums(SLOW)
    for key, seconds, where, located in steps:
        sums.add(key, about(task=f"Task-{key}"), seconds, [(where, 1.0)], located)
    return sums.report(frame)


# ---------------------------------------------------------------- one step


def test_blocked_is_wall_time_less_cpu_and_waiting_for_a_cpu():
    assert blocked_seconds(0.025, (1.0, 2.0), (1.001, 2.002)) == pytest.approx(0.022)
    # a step that computed the whole time, or was preempted the whole time, blocked nothing
    assert blocked_seconds(0.025, (1.0, 2.0), (1.025, 2.0)) == pytest.approx(0.0, abs=1e-12)
    assert blocked_seconds(0.025, (1.0, 2.0), (1.0, 2.03)) == 0.0
    # readings that go back (never happens) or are missing count nothing against the loop
    assert blocked_seconds(0.025, (1.0, 2.0), (0.9, 1.9)) == pytest.approx(0.025)
    assert blocked_seconds(0.025, None, (1.0, 2.0)) == 0.0
    assert blocked_seconds(0.025, (1.0, 2.0), None) == 0.0


# ---------------------------------------------------------------- the sums


def test_four_slices_of_one_task_add_up_to_one_blocking_entry():
    [entry] = sums_of(*[(1, 0.025, SLEEP, "sampled")] * 4)
    assert entry["kind"] == "slices" and entry["student"]
    assert (entry["file"], entry["line"], entry["located"]) == ("solution.py", 9, "sampled")
    assert entry["seconds"] == pytest.approx(0.1) and entry["count"] == 4
    assert entry["longest"] == pytest.approx(0.025) and entry["tasks"] == 1
    assert entry["slice_limit"] == SLOW and entry["task"] == "Task-1"


def test_slices_below_the_limit_in_all_are_not_reported():
    assert sums_of((1, 0.02, SLEEP, "sampled"), (1, 0.029, SLEEP, "sampled")) == []


def test_the_same_line_in_several_tasks_adds_up_over_the_tasks():
    [entry] = sums_of(*[(k, 0.02, SLEEP, "sampled") for k in range(5)])
    assert entry["tasks"] == 5 and entry["task"] is None
    assert entry["seconds"] == pytest.approx(0.1) and entry["line"] == 9


def test_a_line_already_shown_in_a_task_entry_is_not_reported_again():
    entries = sums_of(*[(1, 0.03, SLEEP, "sampled")] * 2, (2, 0.03, SLEEP, "sampled"))
    assert [(e["task"], e["seconds"]) for e in entries] == [("Task-1", pytest.approx(0.06))]


def test_lines_are_ranked_by_time_the_students_before_libraries():
    sums = BlockedSums(SLOW)
    sums.add(1, about(), 0.02, [(AWAIT, 1.0)], "await")
    sums.add(1, about(), 0.03, [(SLEEP, 0.5), (LIBRARY, 0.5)], "sampled")
    sums.add(1, about(), 0.02, [(SLEEP, 1.0)], "sampled")
    [entry] = sums.report(frame)
    assert [(x["line"], x["seconds"], x["located"]) for x in entry["lines"]] == [
        (9, pytest.approx(0.035), "sampled"),
        (10, pytest.approx(0.02), "await"),
        (171, pytest.approx(0.015), "sampled"),
    ]
    assert (entry["line"], entry["located"]) == (9, "sampled")
    assert entry["seconds"] == pytest.approx(0.07) and entry["count"] == 3


def test_time_blocked_outside_the_students_code_is_not_the_students():
    sums = BlockedSums(SLOW)
    for _ in range(3):
        sums.add(("cb", "probe"), about("probe", None, False), 0.03, [(LIBRARY, 1.0)], "sampled")
    [entry] = sums.report(frame)
    assert entry["student"] is False


def test_a_flood_of_tasks_is_followed_up_to_a_cap():
    sums = BlockedSums(SLOW)
    for k in range(2500):
        sums.add(k, about(), 0.001, [(SLEEP, 1.0)], "await")
    assert len(sums.keys) == 2000 and sums.dropped == pytest.approx(0.5)
    [entry] = sums.report(frame)  # the line over the tasks still followed
    assert entry["tasks"] == 2000 and entry["seconds"] == pytest.approx(2.0)


# ---------------------------------------------------------------- the readings


def test_thread_clock_reads_process_cpu_and_run_delay():
    task_dir = open_task_dir()
    assert task_dir >= 0
    clock = ThreadClock(task_dir, threading.get_native_id())
    try:
        before = clock.read()
        t0 = time.process_time()
        while time.process_time() - t0 < 0.02:
            pass
        after = clock.read()
        assert before is not None and after is not None
        assert after[0] - before[0] >= 0.02 and after[1] >= before[1] >= 0
        # 20 ms of computing is not blocking; 20 ms asleep is
        t = time.perf_counter()
        time.sleep(0.02)
        wall, last = time.perf_counter() - t, clock.read()
        assert blocked_seconds(wall, after, last) == pytest.approx(0.02, abs=0.01)
        assert clock.intact()
    finally:
        clock.close()
        os.close(task_dir)


def test_thread_clock_replaced_by_another_file_is_not_intact(tmp_path):
    task_dir = open_task_dir()
    clock = ThreadClock(task_dir, threading.get_native_id())
    try:
        fake = tmp_path / "schedstat"
        fake.write_text("1 999999999999 1\n")
        fd = os.open(fake, os.O_RDONLY)
        os.dup2(fd, clock.fd)  # what a student's code could do to feed us readings
        os.close(fd)
        assert not clock.intact()
        fake.write_text("not a schedstat\n")
        assert clock.read() is None
    finally:
        clock.close()
        os.close(task_dir)


def test_other_threads_wait_is_counted_from_the_last_look(tmp_path):
    def threads(**delays):
        for tid, ns in delays.items():
            (tmp_path / tid[1:]).mkdir(exist_ok=True)
            (tmp_path / tid[1:] / "schedstat").write_text(f"5 {ns} 7\n")

    threads(t10=1_000_000, t11=2_000_000)
    task_dir = os.open(tmp_path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        others = OtherThreads(task_dir)  # 10 and 11: the platform's, there from the start
        assert others.since() == 0.0
        threads(t10=31_000_000, t11=3_000_000, t12=5_000_000, t13=1_000_000)  # 12, 13: new
        assert others.since(exclude=12) == pytest.approx(0.001)
        for ended in ("10", "11"):
            (tmp_path / ended / "schedstat").unlink()
            (tmp_path / ended).rmdir()
        threads(t12=15_000_000, t13=3_000_000)
        assert others.since(exclude=13) == pytest.approx(0.01)
        others.ignore.add("12")  # the watchdog
        threads(t12=25_000_000, t13=4_000_000)
        assert others.since() == pytest.approx(0.001)
        assert others.since() == 0.0
    finally:
        os.close(task_dir)


def test_other_threads_of_this_process_are_read():
    task_dir = open_task_dir()
    try:
        others = OtherThreads(task_dir)
        assert str(threading.get_native_id()) in others.seen
        assert str(threading.get_native_id()) in others.ignore
        assert all(ns >= 0 for ns in others.seen.values())
    finally:
        os.close(task_dir)
