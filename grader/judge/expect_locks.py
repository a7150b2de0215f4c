"""Judge-side helpers for the lockorder check: lock-order cycles and self-deadlocks, in words.

    reply = student.reply(probe, 2, 100, checks={"lockorder": {}}, timeout=5)
    raise_for_locks(reply)                      # a hang explained by what the check saw
    expect_no_self_deadlock(reply, "deposit()")
    expect_no_lock_cycles(reply, "transfer()", hint="Take the two locks by account id.")

Where the run finished, the check's report (`reply.checks["lockorder"]`) is the
evidence; where it hung and was killed there is no report, and the findings the
check wrote the moment it saw them (`reply.findings`, kinds "lock-cycle"
and "self-deadlock") are used instead.
"""

from __future__ import annotations

from grader.judge import verdicts
from grader.judge.verdicts.locks import CHECK, cycle_message, findings, self_deadlock_message
from grader.judge.verdicts.reply import raise_for
from grader.protocol import Reply, Status

# ---------------------------------------------------------------- evidence


def _reports(reply: Reply) -> list[dict]:
    """The lockorder reports of the run (one per rank under MPI); [] if none came back."""
    results = reply.ranks if reply.ranks is not None else [reply]
    return [r.own_checks[CHECK] for r in results if CHECK in r.own_checks]


def _evidence(reply: Reply, key: str, kind: str) -> list[dict]:
    """Cycles or self-deadlocks: from the check's report if the run finished, else from findings.
    Raises `Failed` when the student's code switched the lock tracking off."""
    reports = _reports(reply)
    for report in reports:
        if not report.get("intact", True):
            raise verdicts.Failed(
                f"Your code switched off the grader's {CHECK} instrumentation (for example by "
                "putting back threading.Lock or threading.RLock), so this check could not run and "
                "earns no points.",
                check=CHECK,
            )
    if reports:
        return [item for report in reports for item in report.get(key) or []]
    if reply.status == Status.OK:
        raise verdicts.SandboxFault(f"the {CHECK} check did not report")
    return findings(reply, kind)  # hung or died: what the check wrote while it ran


# ---------------------------------------------------------------- expectations


def expect_no_lock_cycles(reply: Reply, what: str | None = None, hint: str = "") -> None:
    """Raise `Deadlock` if threads took locks in orders that can deadlock (even if this run did
    not hang)."""
    what = what or reply.what
    cycles = _evidence(reply, "cycles", "lock-cycle")
    if cycles:
        raise verdicts.Deadlock(cycle_message(cycles[0], what, reply, hint), cycles=cycles)


def expect_no_self_deadlock(reply: Reply, what: str | None = None, hint: str = "") -> None:
    """Raise `Deadlock` if a thread asked for a Lock it already held (it then waits forever)."""
    what = what or reply.what
    found = _evidence(reply, "self_deadlocks", "self-deadlock")
    if found:
        raise verdicts.Deadlock(self_deadlock_message(found[0], what, hint), self_deadlocks=found)


def raise_for_locks(reply: Reply, hint: str = "") -> None:
    """Like `raise_for` (a verdict for every status but `ok`), but a hang the lockorder check saw
    coming -- a self-deadlock, or a lock-order cycle while no thread was busy -- gets the
    `Deadlock` verdict that names the locks and lines instead of only where threads were stuck
    (`hint`: the exercise's advice, in place of the general one)."""
    raise_for(reply, explain=True, hint=hint)
