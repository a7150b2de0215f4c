"""Judge-side helpers for asyncio exercises: the "asyncio" check's report turned into verdicts.

    from grader.judge.expect_asyncio import expect_no_blocking, asyncio_deadlock_verdict

    def test_fetch_does_not_block(student):
        reply = student.reply(_fetch_all, 5, checks={"asyncio": {}}, timeout=5)
        expect_no_blocking(reply, "fetch_all(5)")

Each `expect_*` first settles a reply that is not a value: a run that hung raises the
asyncio deadlock (with every task and where it waits) or the blocking call that froze the
loop, when the check saw one, and otherwise the usual verdict of `raise_for`; an
exception from an old API (asyncio.coroutine, time.clock, np.int...) gets a hint with
the modern form. Then it reads the check's report (see `grader.checks.asyncio_watch`).
Only what the student's own code did is held against it.
"""

from __future__ import annotations

from pathlib import Path

from grader.checks.deprecated import explain_exception, scan, scan_source
from grader.judge import verdicts
from grader.judge.verdicts.reply import raise_for
from grader.protocol import STALL_CPU_RATIO, Reply, Status

MAX_TASKS_IN_MESSAGE = 5


# ---------------------------------------------------------------- the report


def asyncio_report(reply: Reply) -> dict:
    """The asyncio check's report of this reply (merged over MPI ranks); `Failed` if the student's
    code undid the check's instrumentation, `SandboxFault` if the check did not report."""
    ranks = reply.ranks
    if ranks is not None:
        reports: list[dict] = [
            r.own_checks["asyncio"] for r in ranks if r.own_checks.get("asyncio") is not None
        ]
        if not reports:
            raise verdicts.SandboxFault("the asyncio check did not report")
        report = dict(reports[0])
        for other in reports[1:]:
            for key, value in other.items():
                if isinstance(value, list):
                    report[key] = report.get(key, []) + value
            report["intact"] = report.get("intact", True) and other.get("intact", True)
    else:
        if reply.own_checks.get("asyncio") is None:
            raise verdicts.SandboxFault("the asyncio check did not report")
        report = reply.own_checks["asyncio"]
    if not report.get("intact", True):
        raise verdicts.Failed(
            "Your code replaced parts of asyncio the grader watches (the event loop's methods or "
            "warnings._warn_unawaited_coroutine), so this check could not run and earns no points.",
            check="asyncio",
        )
    return report


def _settle(reply: Reply, what: str) -> None:
    """Raise the right verdict for a reply that is not a value; nothing for `ok`."""
    if reply.status == Status.OK:
        return
    if reply.status == Status.TIMEOUT:
        verdict = asyncio_deadlock_verdict(reply, what)
        if verdict is not None:
            raise verdict
        hang = next(
            (
                f
                for f in reply.findings_of("asyncio-blocking")
                if (f.get("where") or {}).get("student")
            ),
            None,
        )
        if hang is not None:
            raise verdicts.Timeout(
                _hang_message(hang, reply, what), stacks=reply.stacks, blocking=hang
            )
    try:
        raise_for(reply)
    except verdicts.StudentError as exc:
        hint = explain_exception(exc.details.get("exception"))
        if hint:
            raise verdicts.StudentError(f"{exc.message} {hint}", **exc.details) from None
        raise


# ---------------------------------------------------------------- wording


def _code(text: str) -> str:
    """A source line without its trailing comment."""
    text = (text or "").strip()
    if " #" in text:
        text = text.split(" #", 1)[0].rstrip()
    return text


def _at(frame: dict | None) -> str:
    if not frame:
        return ""
    return f"{frame.get('file')} line {frame.get('line')}"


def _at_code(frame: dict | None) -> str:
    if not frame:
        return ""
    code = _code(frame.get("code", ""))
    return f"{_at(frame)} (`{code}`)" if code else _at(frame)


def _slices_message(b: dict, what: str) -> str:
    """Blocking added up over steps each shorter than slow_callback (kind "slices")."""
    code = _code(b.get("code", ""))
    where = f"{b['file']} line {b['line']}" if b.get("line") is not None else ""
    if not where:
        place = "a blocking call"
    elif b.get("located") == "sampled":
        place = f"`{code}` at {where}"
    elif b.get("located") == "await":
        place = f"a blocking call just before `{code}` at {where}"
    else:
        place = f"a blocking call in {b.get('function') or b['coro']}() ({where})"
    whose = (
        f"in coroutine {b['coro']}()"
        if b.get("tasks", 1) == 1
        else f"in {b['tasks']} tasks ({b['coro']}) together"
    )
    others = [
        f"line {x['line']}"
        for x in b.get("lines", [])[1:]
        if x.get("student") and x.get("line") is not None
    ]
    also = f" (also at {', '.join(others)})" if others else ""
    return (
        f"{what}: {place}{also} blocked the event loop for {b['seconds']:.2f} s in all "
        f"{whose}, in {b['count']} slices of at most {b.get('longest', 0):.3f} s: each is "
        f"shorter than {b.get('slice_limit', 0.05)} s, but while any of them runs no other task "
        "can, so the loop is held as long as by one long blocking call (an await between the "
        "slices does not help). Use the asyncio versions of blocking calls with await "
        "(asyncio.sleep, asyncio.Queue, asyncio.Lock, ...), or run blocking work with await "
        "asyncio.to_thread(...)."
    )


def _blocking_message(b: dict, what: str) -> str:
    if b.get("kind") == "slices":
        return _slices_message(b, what)
    secs = f"{b['seconds']:.2f} s"
    times = (
        f" ({b['count']} times, {b['total_seconds']:.2f} s in all)" if b.get("count", 1) > 1 else ""
    )
    code = _code(b.get("code", ""))
    if b.get("line") is None:
        return (
            f"{what}: coroutine {b['coro']}() blocked the event loop for {secs}{times} without "
            "reaching an await: meanwhile no other task could run. Use the asyncio versions of "
            "blocking calls (await asyncio.sleep(...)), or run blocking or CPU-heavy work with "
            "await asyncio.to_thread(...)."
        )
    where = f"{b['file']} line {b['line']}"
    if b.get("kind") == "sleep":
        return (
            f"{what}: {code} at {where} blocked the event loop for {secs}{times}: while it "
            "sleeps no other task can run. Use await asyncio.sleep(...) or run blocking work "
            "with await asyncio.to_thread(...)."
        )
    if b.get("kind") == "cpu":
        return (
            f"{what}: the computation at {where} (`{code}`, in {b['coro']}()) kept the event "
            f"loop busy for {secs}{times} without reaching an await: meanwhile no other task "
            "could run. Run CPU-heavy work outside the loop with await asyncio.to_thread(...) "
            "or loop.run_in_executor(...) (a process pool for real parallelism), or split it "
            "and await asyncio.sleep(0) between the parts."
        )
    if b.get("kind") == "wait":
        return (
            f"{what}: `{code}` at {where} blocked the event loop for {secs}{times}: it waits "
            "without giving control back to the loop, so no other task can run. Use its "
            "asyncio counterpart with await (asyncio.sleep, asyncio.Queue, asyncio.Lock, "
            "asyncio.Event, ...) or run it with await asyncio.to_thread(...)."
        )
    return (
        f"{what}: `{code}` at {where} (in {b['coro']}()) held the event loop for {secs}{times} "
        "without reaching an await: meanwhile no other task could run. Use the asyncio "
        "versions of blocking calls with await, and run blocking or CPU-heavy work with await "
        "asyncio.to_thread(...)."
    )


def _hang_message(hang: dict, reply: Reply, what: str) -> str:
    where = hang.get("where") or {}
    busy = hang.get("cpu_ratio") is not None and hang["cpu_ratio"] >= 0.5
    code = _code(where.get("code", ""))
    what_it_did = "kept running" if busy else "kept waiting"
    advice = (
        "A loop that waits for another task to change something must await inside it "
        "(for example await asyncio.sleep(0), or better an asyncio.Event); otherwise the "
        "other task never gets a turn."
        if busy
        else "Blocking calls freeze every task: use their asyncio versions with await, or "
        "await asyncio.to_thread(...)."
    )
    return (
        f"{what} was still running after {reply.waited}: `{code}` at {_at(where)} "
        f"(in {hang.get('coro')}()) {what_it_did} inside the event loop without ever "
        f"reaching an await, so no other task could run. {advice}"
    )


# ---------------------------------------------------------------- the expectations


def expect_no_blocking(
    reply: Reply, what: str, hint: str = "", min_seconds: float | None = None
) -> None:
    """Raise `Failed` if a step of the student's code held the event loop longer than
    `min_seconds` (default: the check's `slow_callback`, 0.05 s), or if its steps shorter than
    that were blocked that long in all (per task, or per line over all tasks)."""
    _settle(reply, what)
    report = asyncio_report(reply)
    limit = report.get("slow_callback", 0.05) if min_seconds is None else min_seconds
    found = [b for b in report.get("blocking", []) if b.get("student") and b["seconds"] >= limit]
    if not found:
        return
    found.sort(key=lambda b: (b.get("line") is None, -b["seconds"]))
    message = _blocking_message(found[0], what)
    if len(found) > 1:
        message += f" ({len(found) - 1} other place(s) blocked the loop too.)"
    raise verdicts.Failed(message + (f" {hint}" if hint else ""), blocking=found)


def expect_all_awaited(reply: Reply, what: str, hint: str = "") -> None:
    """Raise `Failed` if the student's code created a coroutine and never awaited it."""
    _settle(reply, what)
    found = [n for n in asyncio_report(reply).get("never_awaited", []) if n.get("student", True)]
    if not found:
        return
    n = found[0]
    place = n.get("created_at") or n.get("defined")
    where = f" at {_at_code(place)}" if place else ""
    message = (
        f"{what}: {n['coro']}() was called{where} but never awaited: calling a coroutine "
        "function only creates a coroutine object, its body never runs. Write "
        f"await {n['coro']}(...), or start it with asyncio.create_task(...) and await the "
        "task later."
    )
    if len(found) > 1:
        message += f" ({len(found) - 1} other coroutine(s) were never awaited either.)"
    raise verdicts.Failed(message + (f" {hint}" if hint else ""), never_awaited=found)


def expect_no_pending_destroyed(reply: Reply, what: str, hint: str = "") -> None:
    """Raise `Failed` if a task of the student's was garbage-collected while still pending."""
    _settle(reply, what)
    found = [
        t for t in asyncio_report(reply).get("destroyed_pending", []) if t.get("student", True)
    ]
    if not found:
        return
    t = found[0]
    parts = []
    if t.get("created_at"):
        parts.append(f"created at {_at_code(t['created_at'])}")
    if t.get("waiting_at"):
        parts.append(f"waiting at {_at_code(t['waiting_at'])}")
    detail = f" ({', '.join(parts)})" if parts else ""
    message = (
        f"{what}: task {t['name']} running {t['coro']}(){detail} was destroyed while still "
        "pending: nothing kept a reference to it or waited for it, so its work was silently "
        "dropped. Keep the tasks you create (in a list, or use asyncio.TaskGroup) and await "
        "them (for example await asyncio.gather(*tasks)) before returning."
    )
    if len(found) > 1:
        message += f" ({len(found) - 1} other task(s) were lost the same way.)"
    raise verdicts.Failed(message + (f" {hint}" if hint else ""), destroyed_pending=found)


def expect_cancellation_respected(reply: Reply, what: str, hint: str = "") -> None:
    """Raise `Failed` if a task was cancelled and the student's code caught the CancelledError
    without raising it again (the task went on, or returned normally)."""
    _settle(reply, what)
    found = [t for t in asyncio_report(reply).get("cancel_swallowed", []) if t.get("student")]
    if not found:
        return
    t = found[0]
    outcome = (
        "returned normally"
        if t.get("outcome") == "returned"
        else f"ended with {t.get('outcome', '').removeprefix('raised ')}"
    )
    caught = f" at {_at_code(t['caught_at'])}" if t.get("caught_at") else ""
    message = (
        f"{what}: task {t['name']} running {t['coro']}() was cancelled but {outcome}: the "
        f"CancelledError was caught{caught} and not raised again, so whoever cancelled the "
        "task believes it stopped while it carried on. Do the cleanup and then re-raise it "
        "(`except asyncio.CancelledError: ...; raise`), or put the cleanup in a finally "
        "block."
    )
    raise verdicts.Failed(message + (f" {hint}" if hint else ""), cancel_swallowed=found)


def expect_bystanders_untouched(report: dict, what: str, hint: str = "") -> None:
    """Raise `Failed` if the student's coroutine cancelled (or stopped) tasks it did not start:
    the grader's bystanders of `grader.checks.bystanders.alongside`."""
    touched = {
        name: fate for name, fate in (report.get("bystanders") or {}).items() if fate != "running"
    }
    if touched:
        names = ", ".join(f"`{n}` ({fate})" for n, fate in touched.items())
        raise verdicts.Failed(
            f"{what} stopped tasks it did not start: the grader had tasks of its own running "
            f"alongside, and they were {names} when it returned. asyncio.all_tasks() lists every "
            "task of the event loop, other people's included: keep the tasks you create in a "
            "list and cancel only those." + (f" {hint}" if hint else ""),
            bystanders=touched,
        )
    if report.get("ticks_after", 1) <= report.get("ticks_at_return", 0):
        raise verdicts.Failed(
            f"After {what} returned, a task the grader had running alongside stopped getting "
            "turns on the event loop." + (f" {hint}" if hint else ""),
            report=report,
        )


def asyncio_deadlock_verdict(reply: Reply, what: str) -> verdicts.Deadlock | None:
    """A `Deadlock` verdict naming every waiting task and where it waits, when the asyncio check saw
    a loop that nothing could ever wake (from `reply.findings` when the run hung and was
    killed, else from the report); None when it saw none."""
    found = reply.findings_of("asyncio-deadlock")
    if not found and reply.status == Status.OK:
        report = reply.own_checks.get("asyncio") or {}
        found = report.get("deadlocks", [])
    if not found:
        return None
    dead = found[0]
    tasks = dead.get("tasks", [])
    shown = [t for t in tasks if t.get("student")] or tasks
    lines = []
    for t in shown[:MAX_TASKS_IN_MESSAGE]:
        at = _at_code(t.get("waiting_at"))
        waits = t.get("waiting_for")
        text = f"{t.get('name')} ({t.get('coro')}) waits"
        if at:
            text += f" at {at}"
        if waits and waits != "?":
            text += f" for {waits}"
        lines.append(text)
    more = len(shown) - MAX_TASKS_IN_MESSAGE
    listing = "; ".join(lines) + (f"; and {more} more" if more > 0 else "")
    message = (
        f"{what} stopped making progress: every task is waiting for something that only "
        "another waiting task could provide, and nothing (no timer, no I/O, no other thread) "
        f"can wake the event loop: an asyncio deadlock. {listing}."
    )
    if any("Lock" in str(t.get("waiting_for", "")) for t in tasks):
        message += (
            " Tasks that need two locks must take them in one global order (for example "
            "the lower-numbered one first); otherwise each can hold one and wait forever for "
            "the other."
        )
    return verdicts.Deadlock(
        message,
        tasks=tasks,
        stacks=reply.stacks,
        **{STALL_CPU_RATIO: reply.stall_cpu_ratio},
    )


def expect_no_asyncio_deadlock(reply: Reply, what: str, hint: str = "") -> None:
    """Raise the asyncio deadlock verdict if there was one, else settle the reply as usual."""
    verdict = asyncio_deadlock_verdict(reply, what)
    if verdict is not None:
        if hint:
            verdict = verdicts.Deadlock(f"{verdict.message} {hint}", **verdict.details)
        raise verdict
    _settle(reply, what)


def expect_asyncio_clean(reply: Reply, what: str, min_seconds: float | None = None) -> None:
    """All of the above, most serious first."""
    expect_no_asyncio_deadlock(reply, what)
    expect_cancellation_respected(reply, what)
    expect_no_pending_destroyed(reply, what)
    expect_all_awaited(reply, what)
    expect_no_blocking(reply, what, min_seconds=min_seconds)


# ---------------------------------------------------------------- old APIs


def deprecated_feedback(folder, limit: int = 20) -> list[str]:
    """One line per old API in the submission folder, or in one file (a static scan; nothing
    runs), errors first: "solution.py line 3: @asyncio.coroutine (asyncio.coroutine was removed
    in Python 3.11). Modern form: async def (and await instead of yield from)." """
    path = Path(folder)
    found = (
        scan_source(path.read_text(encoding="utf-8", errors="replace"), path.name)
        if path.is_file()
        else scan(path)
    )
    found.sort(key=lambda f: (f["severity"] != "error", f["file"], f["line"]))
    lines = [
        f"{f['file']} line {f['line']}: {f['old']} ({f['why']}). Modern form: {f['new']}."
        for f in found[:limit]
    ]
    if len(found) > limit:
        lines.append(f"... and {len(found) - limit} more.")
    return lines


def exception_hint(reply: Reply) -> str | None:
    """The modern form when the reply's exception comes from an old API, else None."""
    raised = next((r for r in reply.ranks or [] if r.exception), reply)
    return explain_exception(raised.exception)
