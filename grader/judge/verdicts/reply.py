"""A sandbox reply that is not a value becomes a verdict: here, and nowhere else.

`verdict_for(reply)` is the verdict (None for `ok`); `raise_for(reply)` raises it. A hang the
lockorder check saw coming (a lock taken twice, a lock-order cycle) is explained by what the
check found (`grader.judge.verdicts.locks`).
"""

from __future__ import annotations

from grader.judge.verdicts import locks
from grader.judge.verdicts.kinds import Crashed, Deadlock, SandboxFault, StudentError, Timeout
from grader.judge.verdicts.wording import stuck_location, student_location
from grader.protocol import STALL_CPU_RATIO, STALL_DEADLOCK, STUDENT_RAISED, Reply, Status


def raise_for(reply: Reply, explain: bool = True, hint: str = "") -> None:
    """Raise the verdict a non-value reply deserves (nothing for `ok`)."""
    verdict = verdict_for(reply, explain, hint)
    if verdict is not None:
        raise verdict


def verdict_for(reply: Reply, explain: bool = True, hint: str = "") -> Exception | None:
    """The verdict a reply deserves: None for a value, `SandboxFault` for the platform's failure,
    else one of the kinds. With `explain`, a hang is explained by the lockorder check's findings
    (`hint`: the exercise's advice for a lock-order cycle or a lock taken twice)."""
    status = reply.status
    if status == Status.OK:
        return None
    verdict = _plain_verdict(reply, status)
    if (
        explain
        and status == Status.TIMEOUT
        and any(f.get("kind") in locks.LOCK_FINDINGS for f in reply.findings)
    ):
        return locks.explain_hang(reply, verdict, hint)
    return verdict


def _plain_verdict(reply: Reply, status: Status) -> Exception:
    what = reply.what
    if status == Status.SANDBOX_ERROR:
        if reply.sent_status not in (None, Status.SANDBOX_ERROR):
            return SandboxFault(f"unexpected sandbox reply status {reply.sent_status!r}")
        return SandboxFault(_said(reply, "the sandbox failed"))
    blamed = reply.blamed_rank() if status != Status.TIMEOUT else None
    if blamed is not None:
        reply = blamed  # the rank that failed speaks for the run
    exc = reply.exception
    if status == Status.EXCEPTION and exc is not None and exc.get("type") == "ScheduledDeadlock":
        return Deadlock(
            f"{what} deadlocked: {exc.get('message')}. Each thread waits for something only "
            "another waiting thread could give (a lock it holds, a notify or put it would do), "
            "so none can ever go on. `grader replay` with the same seed replays this exact "
            "interleaving.",
            stacks=reply.stacks,
            schedule=reply.own_checks.get("schedule"),
        )
    if status in STUDENT_RAISED:
        exc = exc or {}
        raised = f"{exc.get('type')}" + (f": {exc['message']}" if exc.get("message") else "")
        where = student_location(exc.get("frames", []))
        rank = f" (on rank {reply.rank})" if blamed is not None else ""
        if status == Status.IMPORT_ERROR:
            msg = f"Your code could not be imported: {raised}{where}"
        elif status == Status.MISSING:
            msg = f"{exc.get('message')}: the exercise asks for it (see the statement)."
        else:
            msg = f"{what} raised {raised}{where}{rank}"
        return StudentError(msg, exception=exc, stdout=reply.stdout, stderr=reply.stderr)
    if status == Status.TIMEOUT:
        ratio = reply.stall_cpu_ratio
        stacks = reply.stacks
        where = stuck_location(stacks)
        secs = reply.waited
        if ratio is not None and ratio < STALL_DEADLOCK and not reply.running_threads:
            return Deadlock(
                f"{what} was still waiting after {secs} while using no CPU: the threads are blocked "
                f"on each other (a deadlock){where}.",
                stacks=stacks,
                **{STALL_CPU_RATIO: ratio},
            )
        running = reply.running_threads
        busy = (
            f"kept using CPU ({ratio:.1f} CPU-seconds per second)"
            if ratio and ratio >= STALL_DEADLOCK
            else f"{'some' if running is None else running} thread(s) kept running"
        )
        starved = (
            f" It waited {reply.starved:.1f} s for a CPU while the machine was busy, and was "
            "given that time on top of the limit."
            if reply.starved >= 0.1
            else ""
        )
        return Timeout(
            f"{what} was still running after {secs} and {busy}: an endless loop or a "
            f"busy-wait{where}.{starved}",
            stacks=stacks,
            **{STALL_CPU_RATIO: ratio},
        )
    why = _said(reply, "the process died")  # CRASHED
    if reply.oom:
        limit = reply.memory_limit_mb
        why = f"it ran out of memory (the limit is {'?' if limit is None else limit} MB)"
    return Crashed(f"{what} crashed: {why}.", stdout=reply.stdout, stderr=reply.stderr)


def _said(reply: Reply, default: str) -> str:
    """The sandbox's message, or `default` when the reply carries none."""
    return default if reply.message is None else reply.message
