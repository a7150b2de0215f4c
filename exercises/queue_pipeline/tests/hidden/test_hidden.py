"""Hidden tests for queue_pipeline.

All runs go through one probe, `_pipeline`, whose stage functions record (per stage and item)
how often they were called and from which thread, and can be told to be slow, to fail on one
item, or to wait until `workers_per_stage` calls of their stage are running at once (a barrier
with a timeout: sequential code pays the timeout once and is reported, it never hangs).
Threads still running when `pipeline` has returned or raised are judged with
`expect_nothing_left`, so consumers that never exit are caught whether or not they are daemons.
"""

from collections import Counter

from grader.testing import (
    Deadlock, Failed, Timeout, expect_current_api, expect_equal, expect_nothing_left, raise_for,
    requirement,
)

TIMEOUT = 5  # seconds per request; the reference needs well under 1 s
HOLD = 0.5  # seconds a stage's first calls wait to see whether one call more than workers runs
BARRIER_WAIT = 2.0  # seconds a stage call waits for its stage's other workers

STOP_HINT = ("Stop every worker on purpose: after the last item, put one sentinel per worker into "
             "the stage's queue; a worker that takes a sentinel returns (and once a stage's "
             "workers are joined, send the next stage its sentinels). Then join every thread "
             "before returning.")
DAEMON_NOTE = (" Making them daemon threads only hides this: a daemon thread is killed wherever it "
               "is when the program ends, and every call of pipeline() leaves more of them "
               "blocked forever on a queue.")


# ---------------------------------------------------------------- the probe (runs in the sandbox)

def _pipeline(mod, items, n_stages, workers, plan):
    """Run pipeline(items, stages, workers) with recording stage functions.

    Stage s maps x to x * 10 + s + 1 (so the result tells every stage ran, in order). `plan`:
    delays {item: seconds} (stage 0), slow (seconds per call of stage 0), slow_all (seconds per
    call of every stage), fail_at (item whose
    stage-1 call raises ValueError, once the last stage's first call has started), linger (seconds
    the last stage's first call takes: it is still running when stage 1 raises), barrier (stage calls wait for `workers` of their stage),
    overlap (stage 0's call for the last item waits, at most `overlap` s, until stage 1 has
    started), hold (after the barrier, a call waits at most `hold` s for one more call of its
    stage than `workers` to be running: the peak then shows a stage with too many threads).
    The threads still alive at the moment pipeline returned or raised are listed."""
    import threading
    import time

    lock = threading.Lock()
    main = threading.get_ident()
    counts = [{} for _ in range(n_stages)]
    in_main = []
    threads = [set() for _ in range(n_stages)]
    width = workers or 3  # 0: pipeline() is called without workers_per_stage (default 3)
    barriers = [threading.Barrier(width) for _ in range(n_stages)]
    entered = [0] * n_stages
    active, peak = [0] * n_stages, [0] * n_stages
    crowd = threading.Condition(lock)
    met = [True] * n_stages
    delays = {int(k): v for k, v in (plan.get("delays") or {}).items()}
    stage1_started = threading.Event()
    last_stage_started = threading.Event()
    first_of_last = [True]
    last = items[-1] if items else None
    overlapped = [None]

    def make(s):
        def stage(x):
            item = x
            for _ in range(s):
                item //= 10
            with lock:
                counts[s][item] = counts[s].get(item, 0) + 1
                threads[s].add(threading.get_ident())
                k = entered[s]
                entered[s] += 1
                active[s] += 1
                peak[s] = max(peak[s], active[s])
                crowd.notify_all()
            if threading.get_ident() == main:
                in_main.append(s)
            if plan.get("barrier") and k < width:
                try:
                    barriers[s].wait(timeout=plan.get("barrier_wait", 2.0))
                except threading.BrokenBarrierError:
                    met[s] = False
                if plan.get("hold"):
                    with crowd:
                        crowd.wait_for(lambda: active[s] > width, timeout=plan["hold"])
            if s == 1:
                stage1_started.set()
            if s == n_stages - 1 and plan.get("linger"):
                with lock:
                    lingers, first_of_last[0] = first_of_last[0], False
                last_stage_started.set()
                if lingers:
                    time.sleep(plan["linger"])
            if s == 0 and plan.get("overlap") and item == last:
                overlapped[0] = stage1_started.wait(plan["overlap"])
            if s == 0:
                time.sleep(delays.get(item, 0) + plan.get("slow", 0))
            time.sleep(plan.get("slow_all", 0))
            if s == 1 and item == plan.get("fail_at"):
                if plan.get("linger"):
                    last_stage_started.wait(2.0)
                with lock:
                    active[s] -= 1
                raise ValueError(f"bad item {item}")
            with lock:
                active[s] -= 1
            return x * 10 + s + 1
        return stage

    stages = [make(s) for s in range(n_stages)]
    before = set(threading.enumerate())
    try:
        args = (list(items), stages, workers) if workers else (list(items), stages)
        got = mod.pipeline(*args)
        outcome = ["returned", got]
    except Exception as exc:  # noqa: BLE001 - the type and message are judged
        outcome = ["raised", type(exc).__name__, str(exc)]
    alive = [t.name for t in threading.enumerate() if t not in before and t.is_alive()]
    return {"outcome": outcome, "counts": [sorted(c.items()) for c in counts],
            "in_main": sorted(set(in_main)), "threads": [len(t) for t in threads], "met": met,
            "peak": peak,
            "alive_at_return": alive, "overlapped": overlapped[0]}


# ---------------------------------------------------------------- judge-side helpers

def _expected(items, n_stages):
    out = []
    for x in items:
        for s in range(n_stages):
            x = x * 10 + s + 1
        out.append(x)
    return out


def _run(student, items, n_stages, workers, plan=None, timeout=TIMEOUT):
    width = workers or "default"
    what = f"pipeline({len(items)} items, {n_stages} stages, workers_per_stage={width})"
    reply = student.reply(_pipeline, list(items), n_stages, workers, plan or {}, timeout=timeout,
                          what=what)
    if reply.status == "timeout":
        _explain_hang(reply, what, plan or {})
    raise_for(reply)
    return reply.value, what


def _explain_hang(reply, what, plan):
    try:
        raise_for(reply)
    except (Deadlock, Timeout) as verdict:
        if plan.get("fail_at") is not None:
            raise type(verdict)(
                f"{verdict.message} A stage function raised ValueError on one item, and pipeline() "
                "then waited forever: the worker thread died with the exception (or dropped the "
                "item), so the result it owed never came. Catch the exception in the worker, keep "
                "the worker going until its sentinel, and raise the exception in pipeline() once "
                "the threads are stopped.", **verdict.details) from None
        raise type(verdict)(f"{verdict.message} Every item must come out of the last stage, and "
                            "every worker must stop when it takes its sentinel.",
                            **verdict.details) from None


def _returned(got, what):
    outcome = got["outcome"]
    if outcome[0] == "raised":
        raise Failed(f"{what} raised {outcome[1]}: {outcome[2]}")
    return outcome[1]


# ---------------------------------------------------------------- tests

@requirement("in-order")
def test_values_in_input_order(student, seed):
    """Every item goes through every stage, and results come back in the order of the input"""
    import random

    rng = random.Random(seed)
    items = list(range(24))
    delays = {x: rng.choice([0.0, 0.0, 0.003, 0.02]) for x in items}
    delays[0] = 0.05  # the first item finishes last
    got, what = _run(student, items, 2, 3, {"delays": delays})
    result, expected = _returned(got, what), _expected(items, 2)
    shuffled = isinstance(result, list) and sorted(map(repr, result)) == sorted(map(repr, expected))
    expect_equal(result, expected, what + " (stage 0 takes different times per item, so items "
                 "finish out of order)",
                 hint="Carry each item's index through the queues and put every result in its "
                      "own place; the order results come out of the last queue is not the input "
                      "order." if shuffled else "Some items were lost or changed on the way.")


EDGE_CASES = [([], 2, 3), ([5, 6, 7], 1, 3), ([1, 2, 3, 4], 3, 1), ([8, 9], 2, 5),
              ([3, 1, 2], 2, 0)]


def _edge_cases(mod, cases):
    def make(s):
        return lambda x: x * 10 + s + 1

    out = []
    for items, n_stages, workers in cases:
        stages = [make(s) for s in range(n_stages)]
        try:
            got = mod.pipeline(items, stages, workers) if workers else mod.pipeline(items, stages)
            out.append(["returned", got])
        except Exception as exc:  # noqa: BLE001
            out.append(["raised", type(exc).__name__, str(exc)])
    return out


@requirement("values")
def test_small_and_edge_inputs(student):
    """Empty input, one stage, one worker, more workers than items, the default of 3 workers"""
    got = student.run(_edge_cases, EDGE_CASES, timeout=TIMEOUT, what="pipeline on small inputs")
    for (items, n_stages, workers), outcome in zip(EDGE_CASES, got):
        what = (f"pipeline({items}, {n_stages} stage(s)"
                + (f", workers_per_stage={workers})" if workers else ") with the default workers"))
        expect_equal(_returned({"outcome": outcome}, what), _expected(items, n_stages), what)


@requirement("stage-workers")
def test_each_item_once_per_stage(student):
    """Each stage function is called exactly once per item: nothing processed twice or lost"""
    items = list(range(15)) + [3, 7, 3]  # equal items: each one still goes through every stage
    want = Counter(items)
    got, what = _run(student, items, 3, 3, {"delays": {0: 0.02, 7: 0.02}})
    what += " (items 3 and 7 appear more than once)"
    for s, counts in enumerate(got["counts"]):
        counts = dict(counts)
        twice = sorted(k for k, v in counts.items() if v > want[k])
        lost = sorted(x for x in want if counts.get(x, 0) < want[x])
        if twice or lost:
            parts = []
            if twice:
                parts.append(f"called too often for items {twice[:8]} (e.g. item {twice[0]}: "
                             f"{counts[twice[0]]} times, in the input {want[twice[0]]} times)")
            if lost:
                parts.append(f"not called for every copy of items {lost[:8]} (e.g. item "
                             f"{lost[0]}: {counts.get(lost[0], 0)} of {want[lost[0]]} times)")
            raise Failed(f"In {what}, stage {s} was " + " and ".join(parts) + ". Every item must "
                         "be taken from the stage's queue by exactly one worker: workers should "
                         "only get() their items from the queue, never walk the input list "
                         "themselves or put an item back.", counts=sorted(counts.items()))
    _returned(got, what)


@requirement("stage-workers")
def test_workers_run_at_the_same_time(student):
    """Each stage really has workers_per_stage threads working at once, none of them the caller"""
    items = list(range(9))
    got, what = _run(student, items, 2, 3, {"barrier": True, "barrier_wait": BARRIER_WAIT,
                                            "hold": HOLD}, timeout=TIMEOUT + 2 * BARRIER_WAIT)
    if got["in_main"]:
        raise Failed(f"In {what}, stage function(s) {got['in_main']} ran in the thread that called "
                     "pipeline(): the work must be done by the worker threads of each stage.")
    for s, ok in enumerate(got["met"]):
        if not ok:
            raise Failed(f"In {what}, the first 3 calls of stage {s}'s function never ran at the "
                         f"same time (they waited {BARRIER_WAIT:.0f} s for each other): stage {s} "
                         f"has fewer than 3 worker threads taking items at once (its calls came "
                         f"from {got['threads'][s]} thread(s)). Start workers_per_stage threads "
                         "for every stage, all reading from that stage's queue.")
    for s, most in enumerate(got["peak"]):
        if most > 3:
            raise Failed(f"In {what}, {most} calls of stage {s}'s function ran at the same time "
                         f"(from {got['threads'][s]} threads): each stage has exactly "
                         "workers_per_stage worker threads, not more.", peak=got["peak"])
    expect_equal(_returned(got, what), _expected(items, 2), what)


@requirement("stages-overlap")
def test_stages_run_at_the_same_time(student):
    """The stages work at the same time: stage 1 starts before stage 0 has finished every item"""
    items = list(range(6))
    got, what = _run(student, items, 2, 2, {"overlap": BARRIER_WAIT},
                     timeout=TIMEOUT + BARRIER_WAIT)
    if got["overlapped"] is False:
        raise Failed(f"In {what}, stage 0's call for the last item waited {BARRIER_WAIT:.0f} s for "
                     "stage 1 to start, and it never did: the stages ran one after the other "
                     "(all of stage 0, then all of stage 1). Start every stage's workers at once, "
                     "so an item goes on to the next stage as soon as it leaves the previous "
                     "one.", overlapped=False)
    expect_equal(_returned(got, what), _expected(items, 2), what)


def _expect_all_stopped(got, what, hint):
    """No thread pipeline started may still be alive at the moment it returned or raised."""
    if got["alive_at_return"]:
        raise Failed(f"At the moment {what} {got['outcome'][0]}, {len(got['alive_at_return'])} of "
                     f"its threads were still running ({', '.join(got['alive_at_return'][:3])}): "
                     "it did not wait for them. " + hint, alive=got["alive_at_return"])


@requirement("sentinel-stop")
def test_slow_stage_loses_nothing(student):
    """A slow first stage (its output queue is often empty) loses no item"""
    items = list(range(10))
    got, what = _run(student, items, 3, 3, {"slow": 0.03})
    result = _returned(got, what)
    if not isinstance(result, list) or len(result) != len(items) or result != _expected(items, 3):
        raise Failed(f"{what}, where stage 0 takes 0.03 s per item, returned {result!r}; expected "
                     f"{_expected(items, 3)}. The later stages' queues were empty for a moment "
                     "while stage 0 was still working, and workers that stop when their queue is "
                     "empty (`while not q.empty()`, `q.get(timeout=...)` then give up) leave items "
                     "behind. An empty queue does not mean the work is over: stop a worker only "
                     "when it takes a sentinel.", got=repr(result)[:300])


@requirement("error")
def test_stage_error_propagates(student):
    """An exception raised by a stage function reaches the caller, and no thread is left behind"""
    items = list(range(12))
    got, what = _run(student, items, 3, 3, {"fail_at": 7, "slow_all": 0.02, "linger": 0.5})
    outcome = got["outcome"]
    if outcome[0] != "raised":
        raise Failed(f"{what}, where stage 1 raises ValueError('bad item 7') on item 7, returned "
                     f"{outcome[1]!r} instead of raising: the stage's error never reached the "
                     "caller (an exception in a thread only ends that thread). Catch it in the "
                     "worker and raise it again in pipeline() once the threads have stopped.")
    expect_equal(outcome[1:], ["ValueError", "bad item 7"], f"the exception {what} raised",
                 hint="Raise the stage's own exception (the same object) in pipeline().")
    _expect_all_stopped(got, what, "Stop the workers (sentinels) and join every one of them "
                        "before raising the stage's exception.")
    expect_nothing_left(student.last, f"{what}, after raising the stage's ValueError",
                        processes=False, shared_memory=False,
                        hint="Stop the workers (sentinels) and join them also when a stage failed.")
    got, what = _run(student, items, 2, 3, {"fail_at": 4})
    if got["outcome"][0] != "raised":
        raise Failed(f"{what}, where the last stage (stage 1) raises ValueError('bad item 4') on "
                     f"item 4, returned {got['outcome'][1]!r:.200} instead of raising: an error in "
                     "the last stage must reach the caller too.", outcome=got["outcome"][:2])
    expect_equal(got["outcome"][1:], ["ValueError", "bad item 4"], f"the exception {what} raised")


@requirement("joined")
def test_no_threads_left_running(student):
    """Every worker thread stops and is joined before pipeline returns"""
    got, what = _run(student, list(range(10)), 2, 3, {"slow_all": 0.01})
    _returned(got, what)
    _expect_all_stopped(got, what, STOP_HINT)
    daemons = any(t["daemon"] for t in student.last.leftover_threads or [])
    expect_nothing_left(student.last, what, processes=False, shared_memory=False,
                        hint=STOP_HINT + (DAEMON_NOTE if daemons else ""))


@requirement("current-api")
def test_uses_current_api(student):
    """Works, and uses today's threading names (no currentThread, getName, setDaemon, ...)"""
    got, what = _run(student, [1, 2], 1, 2)
    _returned(got, what)
    expect_current_api(student)
