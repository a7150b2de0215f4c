"""Expectations on parallel behaviour, judged from a reply's evidence: no data race, no lost
update, real parallel work, callers kept busy, no crashed worker, nothing left behind; and the
rule for a check that did not report (`check_report`: the student's fault only on evidence)."""

from __future__ import annotations

from pathlib import Path

from grader.checks import workitems
from grader.checks.interleaving import describe as describe_interleaving
from grader.judge import uncaught
from grader.judge.diagnose import difference, summary
from grader.judge.evidence import note_race_check, record_evidence
from grader.judge.expect_values import _show
from grader.judge.verdicts import Failed, Race, SandboxFault, StudentError
from grader.judge.verdicts.wording import student_location
from grader.protocol import Reply, Status

TRACE_EVENTS = ("sys.settrace", "sys.setprofile", "replaced")


def tampering_evidence(reply: Reply, report: dict | None = None) -> list[str]:
    """What shows that the student's code itself took the grader's instrumentation apart: what
    the agent saw rebound (`report["tampered"]`) and what its audit hook refused."""
    found = [str(t) for t in (report or {}).get("tampered") or []]
    found += [
        f"{t.get('what', t.get('event'))}"
        + (f" ({t['file']} line {t['line']})" if t.get("file") else "")
        for t in reply.tampering
        if t.get("event") in TRACE_EVENTS
    ]
    return list(dict.fromkeys(found))


def check_report(reply: Reply, name: str) -> dict:
    """The report of check `name` from the last request. A check that could not run is charged
    to the student only with positive evidence that the student's code took it apart (`Failed`,
    naming the evidence); without it, it is the platform's failure (never the student's)."""
    report = reply.checks.get(name)
    if report is None:
        if (
            reply.status == Status.OK
        ):  # the agent reports every check it started: only the student's
            raise Failed(
                f"The grader's {name} check left no report: your code took it apart "  # code
                "(it runs in your program's process), so this check earns no points.",
                check=name,
                tampering=tampering_evidence(reply),
            )
        raise SandboxFault(f"the {name} check did not report")
    if not report.get("intact", True):
        evidence = tampering_evidence(reply, report)
        if not evidence:
            raise SandboxFault(
                f"the {name} check could not run, and nothing shows the submission "
                f"did it ({report.get('error', 'no error given')})"
            )
        raise Failed(
            f"Your code switched off the grader's {name} instrumentation ("
            + "; ".join(evidence[:3])
            + "), so this check could not run and earns no "
            "points.",
            check=name,
            tampering=evidence[:10],
        )
    return report


def expect_no_races(reply: Reply, what: str, hint: str = "") -> None:
    """Raise `Race` if the lockset check found shared state written without a consistent lock."""
    note_race_check()
    raise_for_races(reply, what, hint)


def raise_for_races(reply: Reply, what: str, hint: str = "") -> None:
    """`expect_no_races` for a request the test did not judge (grader.judge.race_watch)."""
    races = check_report(reply, "lockset")["races"]
    if not races:
        return
    race = races[0]
    writes = race["writes"]
    sites = "; ".join(
        f"{w['thread']} at {w['file']} line {w['line']} (`{w['code']}`) holding "
        + (", ".join(w["locks"]) if w["locks"] else "no lock")
        for w in writes[:3]
    )
    message = (
        f"Data race in {what}: {race['variable']} is written by several threads, and no "
        f"single lock is held at every write ({sites}). Even when the result happens to be "
        "right, two threads can read the same old value and one update is lost."
    )
    raise Race(message + (f" {hint}" if hint else ""), races=races)


def expect_no_lost_update(got, expected, what: str, reply: Reply, hint: str = "") -> None:
    """Raise `Race` when a count came out wrong while threads were being switched by force (the
    `preempt` check) or interleaved by the controlled scheduler (`schedule`); `Failed` when no
    switch happened (the student's code turned them off).

    A wrong value is called a race only on evidence of one: a value of the wrong type, or a
    controlled schedule that saw a single thread, is a plain wrong answer (`Failed`)."""
    note_race_check()
    how = "schedule" if "schedule" in reply.checks else "preempt"
    report = check_report(reply, how)
    if got == expected and type(got) is type(expected):
        if report.get("switches", 0) == 0:
            evidence = tampering_evidence(reply, report)
            if evidence:
                raise Failed(
                    f"No thread switch could be forced while {what} ran: your code "
                    "switched the grader's instrumentation off ("
                    + "; ".join(evidence[:3])
                    + "), so this check earns no points.",
                    preempt=report,
                    tampering=evidence[:10],
                )
            # nothing to blame: the run was too short or too process-bound to switch in; the
            # value came out right, and an innocent run is never charged
            record_evidence(
                inconclusive=f"no thread switch could be forced while {what} ran "
                "(nothing points at the submission); nothing was lost"
            )
        return
    numbers = (int, float)
    wrong_type = not (
        isinstance(got, numbers) and isinstance(expected, numbers) and not isinstance(got, bool)
    ) and type(got) is not type(expected)
    threads = report.get("threads")
    if wrong_type or (how == "schedule" and isinstance(threads, int) and threads < 2):
        why = (
            "; no second thread ever ran, so no update could be lost to another thread: the "
            "value itself is computed wrongly"
            if not wrong_type
            else ": a lost update changes a count, never its type"
        )
        raise Failed(
            f"{what} returned {difference(got, expected)}{why}."
            + (f" {hint}" if hint and not wrong_type else ""),
            expected=summary(expected),
            got=summary(got),
            **{how: report},
        )
    mode = (
        "controlled schedule: the run's seed replays this exact interleaving"
        if how == "schedule"
        else "forced switches"
    )
    episodes = report.get("interleavings") or []
    story = f" For example: {describe_interleaving(episodes[0])}." if episodes else ""
    raise Race(
        f"Updates were lost: {what} returned {difference(got, expected)} when threads were "
        f"switched in the middle of a read-modify-write ({mode}).{story}"
        + (f" {hint}" if hint else ""),
        expected=summary(expected),
        got=summary(got),
        **{how: report},
        **({"interleaving": [describe_interleaving(e) for e in episodes]} if episodes else {}),
    )


def expect_parallel(
    reply: Reply,
    what: str,
    workers: int,
    cores: float,
    hint: str = "",
    items: list[str] | None = None,
    returned: list | None = None,
) -> None:
    """Raise `Failed` unless CPU-bound work was really shared by several processes.

    Judged from the kernel's accounting, never from the student's clocks: *work / span* (CPU
    time in all over the most any single process used) is about the number of processes that
    truly worked in parallel. It stays near 1 for sequential code and for GIL-bound threads,
    however the wall clock looks, and near `workers` for real process parallelism even on a
    loaded machine. Where the probe handed out work items (`grader.checks.workitems.Item`; pass
    `items`, the digest of each position's task, `workitems.digest(args)`, and `returned`, what
    came back at each position as `[value, seal]`, from `workitems.unseal`; None where no value
    comes back through the call), every result must be the sealed value of a record of its
    own task, and only CPU spent *in those items* counts
    (each item once, per process never more than the kernel counted for it); an item computed
    again is work done twice, items of different processes must have run at the same moment,
    and no process may spend much CPU outside its items: helpers that burn CPU, values computed
    elsewhere, forged items and processes that take turns do not pass for parallel work. The
    bar scales with the cores the sandbox has. Run the request with `exclusive_cores=workers`
    (MPI: `ranks`) so no other submission shares its cores."""
    n = max(1, min(workers, int(cores)))
    need = 1 + 0.5 * (n - 1)
    got = None
    if items is not None:
        got = workitems.credit(reply.work_items, items, returned)
    if got is not None:
        work, span, overlap = float(got["work"]), float(got["span"]), int(got["overlap"])
    else:
        work, span, overlap = reply.cpu, reply.span, n
    ratio = work / span if span > 0 else 1.0
    if got is not None and got.get("joined_items", 0) > n and got.get("joined_span", 0) > 0:
        # Judged from the moment the last worker started (a pool whose workers came up seconds
        # apart on a loaded host): overlap of the items still has to hold below.
        ratio = max(ratio, float(got["joined_work"]) / float(got["joined_span"]))
    evidence = {
        "work": round(work, 3),
        "span": round(span, 3),
        "work_over_span": round(ratio, 2),
        "wall": round(reply.wall, 3),
        **({"items": got} if got is not None else {}),
    }
    if got is not None:
        _expect_sealed(got, what, len(items or ()), hint, evidence)
    if got is not None and got["twice"]:
        raise Failed(
            f"{what} ran {got['twice']} of the {len(items or ())} work items more than once: "
            "each item must be computed by exactly one worker." + (f" {hint}" if hint else ""),
            **evidence,
        )
    if n > 1 and ratio < need:
        whose = "in the work items" if got is not None else "in all"
        raise Failed(
            f"{what} did not run in parallel: {work:.2f} CPU-seconds {whose}, of which one process "
            f"alone did {span:.2f} (work/span {ratio:.2f}, at least {need:.1f} expected with "
            f"{n} workers on {int(cores)} cores). CPU-bound Python threads take turns on the GIL, "
            "so they never add up; use processes (multiprocessing, ProcessPoolExecutor)."
            + (f" {hint}" if hint else ""),
            **evidence,
        )
    if got is not None:
        _expect_little_outside(got, what, hint, evidence)
    if got is not None and n > 1 and overlap < min(n, 2):  # overlap is n without items
        raise Failed(
            f"{what} shared the work among {got['processes']} processes, but their work items "
            f"never ran at the same moment (at most {overlap} at once): the processes took "
            "turns. Hand all the items to the pool before waiting for any result."
            + (f" {hint}" if hint else ""),
            **evidence,
        )


# CPU a process may use outside its credited work items: starting up, pickling, its pool's
# threads (honest pools, forked or spawned, used at most 0.07 s each on the local and Docker
# backends), plus a share of what its items took.
OUTSIDE_SECONDS, OUTSIDE_SHARE = 0.4, 0.25


def _expect_sealed(got: dict, what: str, n: int, hint: str, evidence: dict) -> None:
    """Every result is the sealed value of the work item of its own task."""
    if got["unsealed"]:
        raise Failed(
            f"{what} returned {got['unsealed']} of its {n} results without the seal of the "
            "grader's work item: each result must be exactly what func(x) returned for that "
            "item, computed by func in a worker and handed back unchanged (not func.fn, "
            "not a copy, not a value computed another way)." + (f" {hint}" if hint else ""),
            **evidence,
        )
    if got["wrong_seal"]:
        raise Failed(
            f"{what} returned {got['wrong_seal']} of its {n} results with a seal that is not "
            "the one the grader's work item gave that very item and value (a result moved to "
            "another item, changed, replayed or forged): return what func(x) returned for each "
            "item, in input order." + (f" {hint}" if hint else ""),
            **evidence,
        )


def _expect_little_outside(got: dict, what: str, hint: str, evidence: dict) -> None:
    """No process spent much CPU outside its credited work items."""
    per_pid = {}
    for pid, cpu in got["outside"].items():
        inside = got.get("inside", {}).get(pid, 0.0)
        if cpu > OUTSIDE_SECONDS + OUTSIDE_SHARE * inside:
            per_pid[pid] = (cpu, inside)
    if per_pid:
        pid, (cpu, inside) = max(per_pid.items(), key=lambda kv: kv[1][0])
        raise Failed(
            f"While {what} ran, one of its processes used {cpu:.2f} CPU-seconds outside the "
            f"grader's work items (and {inside:.2f} in the items it returned): the work was "
            "done somewhere the items do not show (values computed outside func, items "
            "computed and thrown away, busy helpers). Let the pool's workers call func on "
            "the items, once each, and return what it returned." + (f" {hint}" if hint else ""),
            **evidence,
        )


def expect_kept_busy(moments: list[dict], n: int, limit: int, what: str, hint: str = "") -> None:
    """Raise `Failed` at the first moment with fewer than min(limit, items left) calls in flight,
    or with more than `limit`. `moments` are what a probe saw while it let held calls finish one
    at a time (`[{"finished": k, "in_flight": m}, ...]`, at the start and after each release):
    a property of every moment, not of the peak."""
    for moment in moments:
        done, running = moment["finished"], moment["in_flight"]
        want = min(limit, n - done)
        if running > limit:
            raise Failed(
                f"In {what}, after {done} of the {n} calls had finished, {running} were "
                f"in flight: at most {limit} may be.",
                moments=moments,
            )
        if running < want:
            waiting = n - done - running
            raise Failed(
                f"In {what}, where the grader let the calls finish one at a time, after "
                f"{done} of them had finished only {running} were in flight while "
                f"{waiting} waited to start: {want} should have been running."
                + (f" {hint}" if hint else ""),
                moments=moments,
            )


CHILD_WORDS = {"process": "child process", "thread": "thread"}


def expect_no_child_exceptions(
    reply: Reply,
    what: str,
    kinds: tuple[str, ...] = ("process",),
    hint: str = "",
    submission: Path | None = None,
) -> None:
    """Raise `StudentError` when a thread or child process of the student's code ended with an
    exception, even if the call's value came out right (a crash the results happen to hide).

    Reads the exceptions Python printed on the reply's stderr for a thread or a child process
    that died (`grader.judge.uncaught`, every MPI rank's too); `kinds`: "process", "thread".
    `submission` (the test's `student.submission`) marks the student's own frames, so the
    message names their line."""
    crashed = [c for c in uncaught.found(reply, submission) if c.get("kind") in kinds]
    if not crashed:
        return
    first = crashed[0]
    who = f"{CHILD_WORDS.get(str(first.get('kind')), 'child')} {first.get('name') or ''}".strip()
    more = f" ({len(crashed) - 1} more ended the same way)" if len(crashed) > 1 else ""
    raise StudentError(
        f"In {what}, the {who} ended with {first.get('type')}: "
        f"{_show(first.get('message', ''), 200)}{student_location(first.get('frames') or [])}"
        f"{more}. The results came out right, but a crash in a worker is a bug: it would lose "
        "work as soon as the crash happens earlier." + (f" {hint}" if hint else ""),
        child_exceptions=crashed[:10],
    )


def expect_nothing_left(
    reply: Reply,
    what: str,
    threads: bool = True,
    processes: bool = True,
    shared_memory: bool = True,
    hint: str = "",
) -> None:
    """Raise `Failed` if the call returned but left threads or processes running, or POSIX shared
    memory that was never unlinked (it would outlive the program until the machine reboots)."""
    left_threads, left_processes = reply.leftover_threads, reply.leftover_processes
    leaked = reply.leaked_shared_memory
    problems = []
    if threads and left_threads:
        names = ", ".join(
            t["name"] + (" (daemon)" if t["daemon"] else "") for t in left_threads[:5]
        )
        problems.append(
            f"threads still running after it returned ({names}): join every thread "
            "you start before returning"
        )
    if processes and left_processes:
        problems.append(
            f"{len(left_processes)} process(es) still running after it "
            "returned: join (or terminate and join) every process you start"
        )
    if shared_memory and leaked:
        segs = ", ".join(f"{s['name']} ({s['bytes']} bytes)" for s in leaked[:5])
        problems.append(
            f"shared memory never unlinked ({segs}): close() only detaches this "
            "process; the creator must also call unlink() once everyone has closed "
            "it, or the segment stays in /dev/shm until the machine reboots"
        )
    if problems:
        raise Failed(
            f"{what} left things behind: "
            + "; ".join(problems)
            + "."
            + (f" {hint}" if hint else ""),
            leftover_threads=left_threads,
            leftover_processes=left_processes,
            leaked_shared_memory=leaked,
        )
