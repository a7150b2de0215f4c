"""A hang the lockorder check saw coming, in words: a lock taken twice by its holder, or locks
taken in a cycle (`reply.findings` where the run hung and was killed, the check's report
where it finished; `grader.judge.expect_locks` judges the reports)."""

from __future__ import annotations

from grader.judge.verdicts.kinds import Deadlock, Verdict
from grader.protocol import STALL_CPU_RATIO, STALL_DEADLOCK, Reply, Status

CHECK = "lockorder"
LOCK_FINDINGS = ("self-deadlock", "lock-cycle")
ORDER_HINT = (
    "Always take locks in one global order (for example sorted by account id, or by "
    "id() of the lock), so no two threads can wait for each other."
)
RLOCK_HINT = (
    "Use threading.RLock, which the thread holding it may take again, or do not take "
    "the lock again in a function that is called with it already held."
)


def findings(reply: Reply, kind: str) -> list[dict]:
    """What the check wrote the moment it saw it, of one `kind` (LOCK_FINDINGS)."""
    return reply.findings_of(kind)


def explain_hang(reply: Reply, verdict: Exception, hint: str = "") -> Exception:
    """The verdict for a timed-out `reply` given what the lockorder check saw: a self-deadlock, or
    a lock-order cycle while no thread was busy, is a `Deadlock` naming the locks and lines; a
    busy hang keeps `verdict` (a Timeout) with the cycle added; without findings, `verdict`."""
    what = reply.what
    selfs = findings(reply, "self-deadlock")
    cycles = findings(reply, "lock-cycle")
    details = {"stacks": reply.stacks, STALL_CPU_RATIO: reply.stall_cpu_ratio}
    if selfs:
        return Deadlock(
            self_deadlock_message(selfs[0], what, hint) + " (The run hung here "
            f"and was stopped after {reply.waited}.)",
            self_deadlocks=selfs,
            **details,
        )
    if not cycles:
        return verdict
    ratio = reply.stall_cpu_ratio
    busy = (ratio is not None and ratio >= STALL_DEADLOCK) or bool(reply.running_threads)
    if not busy:
        text = cycle_message(cycles[0], what, reply, hint).replace(
            "Possible deadlock", "Deadlock", 1
        )
        return Deadlock(text, cycles=cycles, **details)
    if not isinstance(verdict, Verdict):
        return verdict
    return type(verdict)(
        f"{verdict.message} Also: {cycle_message(cycles[0], what, None, hint)}",
        cycles=cycles,
        **verdict.details,
    )


# ---------------------------------------------------------------- wording


def _thread(name: str) -> str:
    return str(name).replace(" (<lambda>)", "")


def _at(site: dict, file: str | None = None, with_code: bool = True) -> str:
    where = (
        f"line {site.get('line', '?')}"
        if site.get("file") == file
        else f"{site.get('file', '?')} line {site.get('line', '?')}"
    )
    code = f" `{site['code']}`" if with_code and site.get("code") else ""
    return where + code


def _lines(first: dict, second: dict, file: str | None) -> str:
    a, b = first.get("line"), second.get("line")
    prefix = (
        "" if first.get("file") == second.get("file") == file else f"{second.get('file', '?')} "
    )
    if a == b:
        return f"{prefix}line {a}"
    if isinstance(a, int) and isinstance(b, int) and b == a + 1:
        return f"{prefix}lines {a}-{b}"
    return f"{prefix}lines {a} and {b}"


def _status_note(reply: Reply) -> str:
    if reply.status == Status.TIMEOUT:
        return f" This is what happened here: the run hung and was stopped after {reply.waited}."
    return (
        " This run happened not to hang (the threads did not collide at the wrong moment), "
        "but another run can."
    )


def cycle_message(cycle: dict, what: str, reply: Reply | None = None, hint: str = "") -> str:
    """One lock-order cycle of the check's report, in words for the student."""
    sites = cycle.get("sites") or []
    if not sites:
        text = (
            f"Possible deadlock in {what}: {cycle.get('explanation', 'locks are taken in a cycle')}"
        )
    elif len(sites) == 2:
        s1, s2 = sites
        file = s1.get("held_at", {}).get("file")
        same = _thread(s1["thread"]) == _thread(s2["thread"])
        other = (
            "while elsewhere the same thread" if same else f"while thread {_thread(s2['thread'])}"
        )
        text = (
            f"Possible deadlock in {what}: thread {_thread(s1['thread'])} takes lock "
            f"{s1['held_lock']} ({_at(s1['held_at'])}) and then, still holding it, lock "
            f"{s1['lock']} ({_at(s1, file)}), {other} takes {s2['held_lock']} then "
            f"{s2['lock']} ({_lines(s2['held_at'], s2, file)}). If "
            + ("two threads do this" if same else "both run")
            + " at the same moment, each waits for the other forever."
        )
    else:
        file = sites[0].get("held_at", {}).get("file")
        steps = "; ".join(
            f"thread {_thread(s['thread'])} holds {s['held_lock']} "
            f"({_at(s['held_at'], file if i else None)}) and then takes {s['lock']} ({_at(s, file)})"
            for i, s in enumerate(sites)
        )
        text = (
            f"Possible deadlock in {what}: {len(sites)} locks are taken in a cycle: {steps}. "
            "If these run at the same moment, each thread waits for a lock the next one holds, "
            "forever."
        )
    if reply is not None:
        text += _status_note(reply)
    return f"{text} {hint or ORDER_HINT}"


def self_deadlock_message(record: dict, what: str, hint: str = "") -> str:
    first, second = record.get("first") or {}, record.get("second") or {}
    fn1 = f", in {first['function']}()" if first.get("function") not in (None, "?") else ""
    fn2 = f", in {second['function']}()" if second.get("function") not in (None, "?") else ""
    file = first.get("file")
    return (
        f"Deadlock in {what}: thread {_thread(record.get('thread', '?'))} takes "
        f"{record.get('lock', 'a lock')} ({_at(first)}{fn1}) and then, still holding it, asks "
        f"for it again ({_at(second, file)}{fn2}). A threading.Lock cannot be taken twice, even "
        f"by the thread that holds it, so the thread waits for itself forever. {hint or RLOCK_HINT}"
    )
