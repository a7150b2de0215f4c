"""The asyncio check (grader.checks.asyncio_watch) in a real agent process, and the judge's
verdicts built from its report (grader.judge.expect_asyncio)."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from grader.agent import codec
from grader.judge import verdicts
from grader.judge.expect_asyncio import (
    asyncio_deadlock_verdict,
    asyncio_report,
    expect_all_awaited,
    expect_asyncio_clean,
    expect_cancellation_respected,
    expect_no_asyncio_deadlock,
    expect_no_blocking,
    expect_no_pending_destroyed,
)
from grader.protocol import Reply

SOURCE = textwrap.dedent("""
    import asyncio
    import gc
    import queue
    import threading
    import time


    async def sleepy_blocking():
        time.sleep(0.2)  # BLOCK-SLEEP
        return 1


    async def sleepy_async():
        await asyncio.sleep(0.2)
        return 1


    def legacy_loop_blocking():
        loop = asyncio.new_event_loop()
        try:
            return loop.run_until_complete(sleepy_blocking())
        finally:
            loop.close()


    async def crunch():
        total = 0
        for i in range(3_000_000):  # BLOCK-CPU-FOR
            total += i * i  # BLOCK-CPU-BODY
        return total


    async def helper():
        await asyncio.sleep(0)


    async def forgets():
        helper()  # UNAWAITED
        await asyncio.sleep(0.01)


    async def awaits_it():
        await helper()
        await asyncio.sleep(0.01)


    async def worker(q):
        while True:
            await q.get()  # WORKER-WAIT
            q.task_done()


    async def forgotten_workers():
        q = asyncio.Queue()
        for _ in range(3):
            asyncio.create_task(worker(q))  # CREATED-HERE
        await asyncio.sleep(0)
        del q
        gc.collect()
        await asyncio.sleep(0.01)
        return 1


    async def kept_workers():
        q = asyncio.Queue()
        tasks = [asyncio.create_task(worker(q)) for _ in range(3)]
        for i in range(5):
            await q.put(i)
        await q.join()
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        return 1


    async def swallower(started):
        started.set()
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:  # SWALLOW
            return "ignored"


    async def respectful(started):
        started.set()
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            await asyncio.sleep(0)  # some cleanup
            raise


    async def cancel_one(kind):
        started = asyncio.Event()
        task = asyncio.create_task({"swallow": swallower, "respect": respectful}[kind](started))
        await started.wait()
        task.cancel()
        try:
            return await task
        except asyncio.CancelledError:
            return "cancelled"


    async def philosopher(i, forks, meals, ordered):
        left, right = forks[i], forks[(i + 1) % len(forks)]
        if ordered and i == len(forks) - 1:
            left, right = right, left
        for _ in range(meals):
            async with left:
                await asyncio.sleep(0)
                async with right:  # WAIT-RIGHT
                    await asyncio.sleep(0)


    async def dine(n, meals, ordered):
        forks = [asyncio.Lock() for _ in range(n)]
        await asyncio.gather(*(philosopher(i, forks, meals, ordered) for i in range(n)))
        return meals * n


    def dine_runs(runs, n, meals, ordered):
        return [asyncio.run(dine(n, meals, ordered)) for _ in range(runs)]


    async def busy_wait_for_flag():
        state = {"ready": False}

        async def setter():
            await asyncio.sleep(0.01)
            state["ready"] = True

        asyncio.create_task(setter())
        while not state["ready"]:  # BUSY-WAIT
            pass
        return 1


    async def sliced_sleep():
        for _ in range(4):
            time.sleep(0.025)  # SLICE-SLEEP
            await asyncio.sleep(0)
        return 1


    async def sliced_across_tasks():
        async def part():
            time.sleep(0.02)  # SLICE-TASKS
            await asyncio.sleep(0)

        await asyncio.gather(*(part() for _ in range(5)))
        return 1


    async def sliced_in_callbacks():
        loop = asyncio.get_running_loop()

        def tick():
            time.sleep(0.02)  # SLICE-CALLBACK

        for _ in range(4):
            loop.call_soon(tick)
            await asyncio.sleep(0)
        return 1


    async def sliced_in_done_callbacks():
        def done(fut):
            time.sleep(0.02)  # SLICE-DONE

        for _ in range(4):
            task = asyncio.ensure_future(asyncio.sleep(0))
            task.add_done_callback(done)
            await task
            await asyncio.sleep(0)
        return 1


    async def sliced_queue_get():
        q = queue.Queue()

        def feed():
            for i in range(4):
                time.sleep(0.03)
                q.put(i)

        threading.Thread(target=feed).start()
        for _ in range(4):
            q.get()  # SLICE-QUEUE
            await asyncio.sleep(0)
        return 1


    async def sliced_lock_acquire():
        lock = threading.Lock()
        for _ in range(4):
            lock.acquire()
            threading.Timer(0.025, lock.release).start()
            with lock:  # SLICE-LOCK
                pass
            await asyncio.sleep(0)
        return 1


    async def sliced_executor_result():
        import concurrent.futures
        with concurrent.futures.ThreadPoolExecutor(2) as pool:
            for _ in range(5):
                pool.submit(time.sleep, 0.02).result()  # SLICE-EXECUTOR
                await asyncio.sleep(0)
        return 1


    async def sliced_socket_recv():
        import socket
        a, b = socket.socketpair()

        def feed():
            for _ in range(4):
                time.sleep(0.025)
                b.send(b"x")

        threading.Thread(target=feed).start()
        for _ in range(4):
            a.recv(1)  # SLICE-SOCKET
            await asyncio.sleep(0)
        a.close()
        b.close()
        return 1


    # ------------------------------------------------------------ correct code

    async def good_sliced_waits():
        async def part(i):
            for _ in range(4):
                await asyncio.sleep(0.01)
            return i

        return sum(await asyncio.gather(*(part(i) for i in range(20))))


    async def good_cpu_slices():
        total = 0
        for _ in range(10):
            total += sum(i * i for i in range(60_000))  # ~10 ms of computing per step
            await asyncio.sleep(0)
        return total


    async def good_many_tiny_steps():
        async def spin(i):
            for _ in range(300):
                await asyncio.sleep(0)
            return i

        return sum(await asyncio.gather(*(spin(i) for i in range(30))))


    async def good_to_thread_many():
        async def one(i):
            await asyncio.to_thread(time.sleep, 0.005)
            return i

        return sum(await asyncio.gather(*(one(i) for i in range(40))))


    async def good_threads_started():
        async def one():
            t = threading.Thread(target=time.sleep, args=(0.005,))
            t.start()  # waits until the new thread runs: on a loaded machine, its run_delay
            while t.is_alive():
                await asyncio.sleep(0.005)

        await asyncio.gather(*(one() for _ in range(20)))
        return 1


    async def good_prints_and_garbage():
        junk = []
        for i in range(300):
            print("item", i, "x" * 80)
            junk.append([[j] for j in range(500)])
            if i % 50 == 0:
                gc.collect()
            await asyncio.sleep(0)
        return len(junk)


    async def square(x):
        await asyncio.sleep(0.01)
        return x * x


    def blocking_square(x):
        time.sleep(0.3)
        return x * x


    async def good_gather():
        return sum(await asyncio.gather(*(square(i) for i in range(50))))


    async def good_taskgroup():
        async with asyncio.TaskGroup() as tg:
            tasks = [tg.create_task(square(i)) for i in range(20)]
        return sum(t.result() for t in tasks)


    async def good_taskgroup_failure():
        async def boom():
            await asyncio.sleep(0.01)
            raise ValueError("boom")

        handled = []
        try:
            async with asyncio.TaskGroup() as tg:
                tg.create_task(boom())
                tg.create_task(asyncio.sleep(10))
        except* ValueError:
            handled.append(1)
        return len(handled)


    async def good_semaphore():
        sem = asyncio.Semaphore(3)

        async def limited(i):
            async with sem:
                return await square(i)
        return sum(await asyncio.gather(*(limited(i) for i in range(20))))


    async def good_queue():
        q = asyncio.Queue(maxsize=2)
        results = []

        async def consumer():
            while True:
                item = await q.get()
                results.append(item * 2)
                q.task_done()

        workers = [asyncio.create_task(consumer()) for _ in range(3)]
        for i in range(30):
            await q.put(i)
        await q.join()
        for w in workers:
            w.cancel()
        await asyncio.gather(*workers, return_exceptions=True)
        return sum(results)


    async def good_to_thread():
        loop = asyncio.get_running_loop()
        values = await asyncio.gather(asyncio.to_thread(blocking_square, 3),
                                      loop.run_in_executor(None, blocking_square, 4))
        return sum(values)


    async def good_wait_for():
        try:
            await asyncio.wait_for(asyncio.sleep(10), timeout=0.05)
        except asyncio.TimeoutError:
            pass
        try:
            async with asyncio.timeout(0.05):
                await asyncio.sleep(10)
        except TimeoutError:
            pass
        return await asyncio.wait_for(square(3), timeout=5)


    async def good_thread_wakes_loop():
        loop = asyncio.get_running_loop()
        done = asyncio.Event()

        def later():
            time.sleep(0.4)
            loop.call_soon_threadsafe(done.set)

        threading.Thread(target=later).start()
        await done.wait()
        return 1


    async def good_socket_wakes_loop():
        import socket
        a, b = socket.socketpair()
        a.setblocking(False)
        threading.Thread(target=lambda: (time.sleep(0.4), b.send(b"hi"))).start()
        data = await asyncio.get_running_loop().sock_recv(a, 10)
        a.close()
        b.close()
        return len(data)


    async def good_long_sleep():
        await asyncio.sleep(0.4)
        return 1


    async def good_shield_and_as_completed():
        total = 0
        for fut in asyncio.as_completed([square(i) for i in range(10)]):
            total += await fut
        total += await asyncio.shield(square(2))
        return total


    def run_each(names):
        return [asyncio.run(globals()[name]()) for name in names]


    def run(name, *args):
        return asyncio.run(globals()[name](*args))
""")

LINES = SOURCE.splitlines()

SLICED_GOOD = [
    "good_sliced_waits",
    "good_cpu_slices",
    "good_many_tiny_steps",
    "good_to_thread_many",
    "good_threads_started",
    "good_prints_and_garbage",
]

GOOD = [
    *SLICED_GOOD,
    "good_gather",
    "good_taskgroup",
    "good_taskgroup_failure",
    "good_semaphore",
    "good_queue",
    "good_to_thread",
    "good_wait_for",
    "good_thread_wakes_loop",
    "good_socket_wakes_loop",
    "good_long_sleep",
    "good_shield_and_as_completed",
    "sleepy_async",
    "awaits_it",
    "kept_workers",
]


def line_of(marker: str) -> int:
    return next(i for i, text in enumerate(LINES, 1) if f"# {marker}" in text)


def call(session, function, *args, timeout=20, options=None) -> Reply:
    raw = session.call(
        {
            "kind": "call",
            "module": "solution",
            "function": function,
            "args": codec.encode(list(args)),
            "timeout": timeout,
            "checks": {"asyncio": options or {}},
        }
    )
    return Reply(raw, f"{function}{args}")


def report_of(reply: Reply) -> dict:
    assert reply.status == "ok", reply.raw
    return asyncio_report(reply)


def student_entries(report: dict) -> dict:
    return {
        key: [e for e in report[key] if e.get("student", True)]
        for key in (
            "blocking",
            "never_awaited",
            "destroyed_pending",
            "cancel_swallowed",
            "deadlocks",
        )
    }


# ---------------------------------------------------------------- blocking the loop


def test_time_sleep_in_a_coroutine_is_flagged_with_its_line(session):
    reply = call(session, "run", "sleepy_blocking")
    [entry] = report_of(reply)["blocking"]
    assert (entry["file"], entry["line"]) == ("solution.py", line_of("BLOCK-SLEEP"))
    assert entry["coro"] == "sleepy_blocking" and entry["kind"] == "sleep" and entry["student"]
    assert 0.15 < entry["seconds"] < 1.0 and entry["cpu_ratio"] < 0.5
    with pytest.raises(verdicts.Failed) as info:
        expect_no_blocking(reply, "sleepy_blocking()")
    assert (
        f"time.sleep(0.2) at solution.py line {line_of('BLOCK-SLEEP')} blocked the event loop "
        "for 0.2"
    ) in info.value.message
    assert "asyncio.to_thread" in info.value.message


def test_loops_made_with_new_event_loop_are_watched_too(session):
    reply = call(session, "legacy_loop_blocking")
    assert [b["line"] for b in report_of(reply)["blocking"]] == [line_of("BLOCK-SLEEP")]


def test_await_asyncio_sleep_twin_is_not_flagged(session):
    reply = call(session, "run", "sleepy_async")
    assert report_of(reply)["blocking"] == []
    expect_asyncio_clean(reply, "sleepy_async()")


def test_cpu_loop_in_a_coroutine_is_flagged(session):
    reply = call(session, "run", "crunch")
    [entry] = report_of(reply)["blocking"]
    assert entry["line"] in (line_of("BLOCK-CPU-FOR"), line_of("BLOCK-CPU-BODY"))
    assert entry["kind"] == "cpu" and entry["coro"] == "crunch"
    with pytest.raises(verdicts.Failed, match="kept the event loop busy"):
        expect_no_blocking(reply, "crunch()")


# ---------------------------------------------------------------- blocking in short slices


@pytest.mark.parametrize(
    "function, marker, tasks",
    [
        ("sliced_sleep", "SLICE-SLEEP", 1),
        ("sliced_across_tasks", "SLICE-TASKS", 5),
        ("sliced_in_callbacks", "SLICE-CALLBACK", 1),
        ("sliced_in_done_callbacks", "SLICE-DONE", 1),
        ("sliced_queue_get", "SLICE-QUEUE", 1),
        ("sliced_lock_acquire", "SLICE-LOCK", 1),
        ("sliced_socket_recv", "SLICE-SOCKET", 1),
        ("sliced_executor_result", "SLICE-EXECUTOR", 1),
    ],
)
def test_blocking_cut_into_short_slices_is_added_up(session, function, marker, tasks):
    reply = call(session, "run", function)
    assert reply.status == "ok", reply.raw.get("exception")
    report = report_of(reply)
    mine = [b for b in report["blocking"] if b["student"]]
    # (on a loaded machine a slice that waits for another thread can last 0.05 s or more: it is
    # then reported alone, as a long step, and the other slices still add up; a sample taken
    # while the loop thread waited for the GIL after the call can name the next line too)
    assert line_of(marker) in {x["line"] for b in mine for x in b.get("lines", [b])}, mine
    [entry] = [b for b in mine if b["kind"] == "slices"]
    assert entry["tasks"] == tasks and entry["located"] == "sampled", entry
    assert entry["seconds"] >= 0.05 and entry["longest"] < 0.05 and entry["count"] >= 2
    with pytest.raises(verdicts.Failed) as info:
        expect_no_blocking(reply, f"{function}()")
    message = info.value.message
    assert f"line {line_of(marker)}" in message, message
    assert "blocked the event loop for" in message and "in all" in message, message
    assert "asyncio.to_thread" in message


def test_correct_sliced_waits_are_not_flagged_on_a_loaded_machine(session):
    hogs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(2)]
    try:
        for _ in range(2):
            reply = call(session, "run_each", SLICED_GOOD)
            assert [b for b in report_of(reply)["blocking"] if b["student"]] == []
        bad = call(session, "run", "sliced_sleep")  # real blocking still counts under load
        assert [b["line"] for b in report_of(bad)["blocking"] if b["student"]] == [
            line_of("SLICE-SLEEP")
        ]
    finally:
        for hog in hogs:
            hog.kill()
            hog.wait()


# ---------------------------------------------------------------- coroutines and tasks lost


def test_coroutine_never_awaited_is_flagged_where_it_was_created(session):
    reply = call(session, "run", "forgets")
    [entry] = report_of(reply)["never_awaited"]
    assert entry["coro"] == "helper"
    assert entry["created_at"]["line"] == line_of("UNAWAITED")
    with pytest.raises(verdicts.Failed, match=r"helper\(\) was called at solution.py line \d+"):
        expect_all_awaited(reply, "forgets()")


def test_task_destroyed_while_pending_is_flagged(session):
    reply = call(session, "run", "forgotten_workers")
    lost = report_of(reply)["destroyed_pending"]
    assert len(lost) == 3 and {t["coro"] for t in lost} == {"worker"}
    assert all(t["created_at"]["line"] == line_of("CREATED-HERE") for t in lost)
    with pytest.raises(verdicts.Failed, match="destroyed while still pending"):
        expect_no_pending_destroyed(reply, "forgotten_workers()")


# ---------------------------------------------------------------- cancellation


def test_swallowed_cancellation_is_flagged_and_the_reraising_twin_is_not(session):
    swallowed = call(session, "run", "cancel_one", "swallow")
    assert swallowed.value == "ignored"
    [entry] = report_of(swallowed)["cancel_swallowed"]
    assert entry["coro"] == "swallower" and entry["student"] and entry["outcome"] == "returned"
    assert entry["caught_at"]["line"] == line_of("SWALLOW")
    with pytest.raises(verdicts.Failed, match="was cancelled but returned normally"):
        expect_cancellation_respected(swallowed, "cancel_one('swallow')")

    respected = call(session, "run", "cancel_one", "respect")
    assert respected.value == "cancelled"
    assert report_of(respected)["cancel_swallowed"] == []


# ---------------------------------------------------------------- deadlocks and hangs


def test_lock_inversion_philosophers_reported_as_asyncio_deadlock(session):
    reply = call(session, "run", "dine", 5, 3, False, timeout=1.5)
    assert reply.status == "timeout"
    [dead] = [f for f in reply.raw["findings"] if f["kind"] == "asyncio-deadlock"]
    waiting = [t for t in dead["tasks"] if t["coro"] == "philosopher"]
    assert len(waiting) == 5
    assert {t["waiting_at"]["line"] for t in waiting} == {line_of("WAIT-RIGHT")}
    assert all("Lock `right`" in t["waiting_for"] for t in waiting)
    verdict = asyncio_deadlock_verdict(reply, "dine(5)")
    assert isinstance(verdict, verdicts.Deadlock)
    assert f"solution.py line {line_of('WAIT-RIGHT')} (`async with right:`)" in verdict.message
    with pytest.raises(verdicts.Deadlock, match="asyncio deadlock"):
        expect_no_blocking(reply, "dine(5)")  # any expectation settles a hung run first


def test_ordered_philosophers_never_flagged_in_20_runs(session):
    reply = call(session, "dine_runs", 20, 5, 20, True)
    assert reply.value == [100] * 20
    assert report_of(reply)["loops"] == 20
    assert report_of(reply)["deadlocks"] == [] and reply.raw["findings"] == []
    assert asyncio_deadlock_verdict(reply, "dine(5)") is None


def test_busy_wait_that_freezes_the_loop_is_named_when_the_run_hangs(session):
    reply = call(session, "run", "busy_wait_for_flag", timeout=1.2, options={"hang_report": 0.3})
    assert reply.status == "timeout"
    [hang] = [f for f in reply.raw["findings"] if f["kind"] == "asyncio-blocking"]
    assert hang["where"]["line"] == line_of("BUSY-WAIT")
    with pytest.raises(verdicts.Timeout, match="without ever reaching an await"):
        expect_no_blocking(reply, "busy_wait_for_flag()")


# ---------------------------------------------------------------- correct code


def test_correct_asyncio_code_is_not_flagged(session):
    reply = call(session, "run_each", GOOD)
    report = report_of(reply)
    assert report["loops"] == len(GOOD)
    assert student_entries(report) == {key: [] for key in student_entries(report)}, report
    assert reply.raw["findings"] == []
    expect_asyncio_clean(reply, "correct code")


# ---------------------------------------------------------------- verdicts from replies (no sandbox)


def _reply(status="ok", report=None, findings=(), **raw) -> Reply:
    base = {"status": status, "findings": list(findings), "wall": 2.0, **raw}
    if report is not None:
        base["checks"] = {
            "asyncio": {
                "intact": True,
                "slow_callback": 0.05,
                "blocking": [],
                "never_awaited": [],
                "destroyed_pending": [],
                "cancel_swallowed": [],
                "deadlocks": [],
                **report,
            }
        }
    return Reply(base, "probe()")


def test_instrumentation_switched_off_earns_nothing():
    with pytest.raises(verdicts.Failed, match="could not run"):
        expect_no_blocking(_reply(report={"intact": False}), "probe()")


def test_blocking_below_the_limit_or_outside_student_code_passes():
    short = {
        "coro": "c",
        "task": "Task-1",
        "file": "solution.py",
        "line": 3,
        "code": "x()",
        "student": True,
        "kind": "wait",
        "seconds": 0.06,
        "total_seconds": 0.06,
        "count": 1,
    }
    library = {**short, "student": False, "seconds": 0.5}
    reply = _reply(report={"blocking": [short, library]})
    expect_no_blocking(reply, "probe()", min_seconds=0.1)
    with pytest.raises(verdicts.Failed, match="`x\\(\\)` at solution.py line 3 blocked"):
        expect_no_blocking(reply, "probe()")


def test_old_api_errors_get_the_modern_form():
    reply = _reply(
        status="exception",
        exception={
            "type": "AttributeError",
            "message": "module 'asyncio' has no attribute 'coroutine'",
            "frames": [
                {
                    "file": "solution.py",
                    "line": 4,
                    "name": "<module>",
                    "code": "@asyncio.coroutine",
                    "student": True,
                }
            ],
        },
    )
    with pytest.raises(verdicts.StudentError, match="Modern form: async def"):
        expect_all_awaited(reply, "probe()")


def test_library_swallowed_cancellation_is_not_held_against_the_student():
    entry = {
        "name": "Task-1",
        "coro": "main",
        "outcome": "returned",
        "student": False,
        "caught_at": {"file": "/usr/lib/python3.11/asyncio/taskgroups.py", "line": 111},
    }
    expect_cancellation_respected(_reply(report={"cancel_swallowed": [entry]}), "probe()")


def test_deadlock_found_in_a_finished_run_report():
    dead = {
        "tasks": [
            {
                "name": "Task-2",
                "coro": "a",
                "student": True,
                "waiting_for": "a Future",
                "waiting_at": {"file": "solution.py", "line": 7, "code": "await fut"},
            }
        ]
    }
    reply = _reply(report={"deadlocks": [dead]})
    with pytest.raises(verdicts.Deadlock, match=r"Task-2 \(a\) waits at solution.py line 7"):
        expect_no_asyncio_deadlock(reply, "probe()")
