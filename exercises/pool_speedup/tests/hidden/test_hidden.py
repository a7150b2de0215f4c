"""Hidden tests for pool_speedup.

CPU-bound work is `workitems.churn` over tasks `(seed, steps)`: a nonlinear recurrence with no
shortcut (only doing every step computes it), drawn from the test's seed (replayable), handed
to the student's map as a grader work item (`workitems.Item(churn)`: it pickles by name under
any start method, notes which process computed each item, with how much CPU and when, and
returns its value sealed with that record). Whether it ran in parallel is judged by
`expect_parallel` from the kernel's CPU accounting of the processes and the records of the
items whose sealed values came back (work/span, items of different processes overlapping in
time, little CPU outside the items), never from wall-clock speedup: that stays right on 2 busy
cores, where wall-clock speedups of threads and processes overlap, and helpers that burn CPU
or values computed outside the items count for nothing. I/O-bound work is `time.sleep`, where
overlapping threads show in the wall time whatever the load, since sleeping needs no CPU.
"""

import functools
import random

from grader.checks import workitems
from grader.testing import (
    Failed, StudentError, Verdict, expect_equal, expect_nothing_left, expect_parallel,
    record_evidence, requirement,
)

TIMEOUT = 10
CPU_ITEM = 1_600_000  # steps of churn: 0.1 s to 0.5 s of CPU (as sum(range(20M)) was), well above a worker's start
SLEEP, N_SLEEPS, THREADS = 0.25, 8, 4


def _tasks(seed, sizes):
    """One task (seed, steps) per size, seeds drawn from the test's seed."""
    rng = random.Random(seed)
    return [(rng.randrange(1, workitems.PRIME), n) for n in sizes]


@functools.lru_cache(maxsize=64)
def _expected(task):
    return workitems.churn(task)


def _cpu_map(mod, tasks, workers):
    from grader.checks.workitems import Item as work_item, churn, unseal

    got = mod.parallel_map(work_item(churn), [tuple(t) for t in tasks], workers, "process")
    return unseal(got)


def _reference_map(mod, tasks, workers):
    """The grader's own process pool over the same work: the reference line of the plot."""
    from concurrent.futures import ProcessPoolExecutor

    from grader.checks.workitems import Item as work_item

    from grader.checks.workitems import churn

    with ProcessPoolExecutor(workers) as pool:
        return list(pool.map(work_item(churn), [tuple(t) for t in tasks]))


def _sleep_map(mod, delays, workers):
    import time

    t0 = time.perf_counter()
    got = mod.parallel_map(time.sleep, list(delays), workers, "thread")
    return {"value": got, "wall": time.perf_counter() - t0}


def _peak_in_flight(mod, n, workers, wait=0.5):
    """parallel_map over n items with kind "thread" where each item waits (at most `wait` s)
    until `workers` items are in flight: the most items ever in flight at once."""
    import threading
    import time

    state = {"now": 0, "peak": 0}
    cond = threading.Condition()

    def item(x):
        with cond:
            state["now"] += 1
            state["peak"] = max(state["peak"], state["now"])
            cond.notify_all()
            cond.wait_for(lambda: state["now"] >= workers, timeout=wait)
        time.sleep(0.01)
        with cond:
            state["now"] -= 1
        return x

    got = mod.parallel_map(item, list(range(n)), workers, "thread")
    return {"value": got, "peak": state["peak"]}


def _echo_after(mod, delays, workers):
    """Threads: item i sleeps delays[i] and returns i (a closure: threads need no pickling)."""
    import time

    def work(i):
        time.sleep(delays[i])
        return i

    return mod.parallel_map(work, list(range(len(delays))), workers, "thread")


BAD_KINDS = [("fiber", [1, -2]), ("fiber", []), ("Process", [1, -2]), ("THREAD", [])]


def _bad_kind(mod, cases):
    """What each parallel_map(abs, data, 2, kind) of `cases` raised: "ValueError", another
    exception's name, or "nothing" (an empty list too: a kind is checked before any work)."""
    out = []
    for kind, data in cases:
        try:
            mod.parallel_map(abs, data, 2, kind)
        except ValueError:
            out.append("ValueError")
        except Exception as exc:  # noqa: BLE001 - report what was raised instead
            out.append(type(exc).__name__)
        else:
            out.append("nothing")
    return out


@requirement("cpu-shared", "cpu-overlap")
def test_cpu_bound_processes_in_parallel(student, seed):
    """kind="process": CPU-bound work really runs in 2 processes at once (CPU accounting)"""
    tasks = _tasks(seed, [CPU_ITEM + i for i in range(8)])  # 8 different items: each runs once
    what = f"parallel_map(func, <8 CPU-bound items of about {CPU_ITEM} steps>, 2, 'process')"
    got = student.run(_cpu_map, tasks, 2, timeout=TIMEOUT, what=what, exclusive_cores=2)
    judged = student.last
    expect_equal(got["values"], [_expected(t) for t in tasks], what)
    _record_timings(student, tasks, judged.wall)
    hint = ("For kind 'process' use a ProcessPoolExecutor (or multiprocessing.Pool) with "
            "`workers` processes, and hand it all the items before waiting for any result.")
    expect_parallel(judged, what, workers=2, cores=student.limits["cpus"],
                    items=[workitems.digest((t,)) for t in tasks],
                    returned=[list(pair) for pair in zip(got["values"], got["seals"])],
                    hint=hint)
    _expect_every_worker(student, seed, hint)
    _expect_handed_out_first(student, seed, hint)


def _credited(student, tasks, what, workers):
    """Run the items on `workers` processes; the records [pid, start, end, cpu, digest] that
    count (a sealed value returned at its own task's position), by position."""
    got = student.run(_cpu_map, tasks, workers, timeout=TIMEOUT, what=what, exclusive_cores=2)
    expect_equal(got["values"], [_expected(t) for t in tasks], what)
    records = {r[6]: r for r in (student.last.work_items.get("records") or []) if len(r) == 7}
    digests = [workitems.digest((t,)) for t in tasks]
    return [records.get(tag) if records.get(tag, [None] * 5)[4] == d else None
            for d, tag in zip(digests, got["seals"] or [None] * len(tasks))]


def _expect_every_worker(student, seed, hint):
    """workers=3 over 4 long items: 3 processes compute them, not fewer and not more."""
    tasks = _tasks(seed + 1, [2 * CPU_ITEM + i for i in range(4)])
    what = f"parallel_map(func, <4 CPU-bound items of about {2 * CPU_ITEM} steps>, 3, 'process')"
    pids = {r[0] for r in _credited(student, tasks, what, 3) if r}
    if len(pids) != 3:
        raise Failed(f"In {what}, {len(pids)} process(es) computed the items: with workers=3 the "
                     f"pool has 3 processes, and each computes its own share. {hint}",
                     processes=len(pids))


def _expect_handed_out_first(student, seed, hint):
    """One long item, then seven short ones, on 2 workers: while one worker computes the long
    item the other must go through the short ones (a pool that has all the items does), not
    wait for the long one to finish (items handed out in batches, or one at a time)."""
    tasks = _tasks(seed + 2, [4 * CPU_ITEM] + [CPU_ITEM // 4 + i for i in range(7)])
    what = (f"parallel_map(func, <one item of {4 * CPU_ITEM} steps, then 7 of {CPU_ITEM // 4}>, "
            "2, 'process')")
    recs = _credited(student, tasks, what, 2)
    if recs[0] is None:
        return  # nothing credited to judge by: the sealed-items checks above speak to that
    long_end = recs[0][2]
    early = sum(1 for r in recs[1:] if r and r[1] < long_end)
    if early < 3:
        raise Failed(f"In {what}, only {early} of the 7 short items started while the long one "
                     "was being computed, although the other worker was free for all of them: "
                     "the items were not all handed to the pool before a result was awaited "
                     f"(batches, or one item at a time). {hint}", started_early=early)


def _record_timings(student, tasks, wall_at_2):
    """Wall times (the sandbox's clock) of the same work with 1 and 2 workers, the student's
    and the reference's, for the feedback's plot; they judge nothing (CPU accounting does)."""
    points = {1: {"workers": 1}, 2: {"workers": 2, "seconds": round(wall_at_2, 3)}}
    try:
        for probe, key, workers in ((_cpu_map, "seconds", 1), (_reference_map, "reference", 1),
                                    (_reference_map, "reference", 2)):
            student.run(probe, tasks, workers, timeout=TIMEOUT, exclusive_cores=2,
                        what=f"parallel_map(func, <8 items>, {workers}, 'process')")
            points[workers][key] = round(student.last.wall, 3)
    except Verdict:
        return  # no plot: the judged run's verdict is what counts
    record_evidence(timings=[points[1], points[2]])


@requirement("io-overlap")
def test_io_bound_threads_overlap(student):
    """kind="thread": waits in several threads overlap"""
    what = f"parallel_map(time.sleep, [{SLEEP}] * {N_SLEEPS}, {THREADS}, 'thread')"
    out = student.run(_sleep_map, [SLEEP] * N_SLEEPS, THREADS, timeout=TIMEOUT, what=what)
    expect_equal(out["value"], [None] * N_SLEEPS, what)
    serial, ideal = SLEEP * N_SLEEPS, SLEEP * N_SLEEPS / THREADS
    if out["wall"] > 0.6 * serial:
        raise Failed(f"{what} took {out['wall']:.2f} s: the sleeps did not overlap (one after "
                     f"another they take {serial:.1f} s; {THREADS} threads need about "
                     f"{ideal:.1f} s). Waiting does not need the GIL, so threads do overlap for "
                     "I/O-bound work: submit every item to a ThreadPoolExecutor with `workers` "
                     "threads before collecting any result.", wall=round(out["wall"], 3))
    # Up to `workers` waits at once, and no fewer: items that wait for one another show it
    what = f"parallel_map(f, [0, 1, ..., 11], {THREADS}, 'thread') where f waits for company"
    out = student.run(_peak_in_flight, 12, THREADS, timeout=TIMEOUT, what=what)
    expect_equal(out["value"], list(range(12)), what)
    if out["peak"] != THREADS:
        raise Failed(f"In {what}, at most {out['peak']} items were in progress at the same time; "
                     f"with workers={THREADS} there must be {THREADS}: a ThreadPoolExecutor with "
                     f"max_workers=workers runs exactly that many at once.", peak=out["peak"])


@requirement("in-order")
def test_order_kept_processes(student, seed):
    """kind="process": results in input order, whatever order they finish in"""
    rng = random.Random(seed)
    sizes = [CPU_ITEM * 2, 1, rng.randrange(10, 100), CPU_ITEM, 5, rng.randrange(100, 1000)]
    tasks = _tasks(seed, sizes)
    what = f"parallel_map(func, <items of {sizes} steps>, 3, 'process')"
    got = student.run(_cpu_map, tasks, 3, timeout=TIMEOUT, what=what)
    _in_order(got["values"], [_expected(t) for t in tasks], what)


@requirement("in-order", "thread-pool")
def test_order_kept_threads(student, seed):
    """kind="thread": results in input order, whatever order they finish in"""
    rest = [0.0, 0.2, 0.0, 0.1, 0.0]
    random.Random(seed).shuffle(rest)
    delays = [0.3, *rest]  # the first item is always the slowest
    what = f"parallel_map(f, [0, 1, ..., 5], 3, 'thread') where item i sleeps {delays}"
    got = student.run(_echo_after, delays, 3, timeout=TIMEOUT, what=what)
    _in_order(got, list(range(len(delays))), what)


def _in_order(got, expected, what):
    if isinstance(got, list) and got != expected and sorted(got) == sorted(expected):
        raise Failed(f"{what} returned the right results in the wrong order ({got}): they "
                     "came back in the order they finished. Keep input order: Executor.map "
                     "does, or keep the futures in a list and call result() on each in turn "
                     "(as_completed gives completion order).", got=got)
    expect_equal(got, expected, what)


@requirement("edge-inputs")
def test_small_inputs(student):
    """Empty data, one item, more workers than items"""
    for sizes, workers in [([], 2), ([10], 1), ([3, 4], 4)]:
        tasks = _tasks(len(sizes), sizes)
        what = f"parallel_map(func, <items of {sizes} steps>, {workers}, 'process')"
        got = student.run(_cpu_map, tasks, workers, timeout=TIMEOUT, what=what)
        expect_equal(got["values"], [_expected(t) for t in tasks], what)


def _pools_closed(mod):
    """Both kinds on a few items, and what each left running at the moment it returned (a pool
    dropped without a shutdown winds down by itself a little later, unseen by a later look)."""
    import multiprocessing
    import threading
    import time

    out, left = [], []
    for args in ((abs, [3, -1, -4], 2, "process"), (time.sleep, [0.01, 0.01], 2, "thread")):
        before = set(threading.enumerate())
        out.append(mod.parallel_map(*args))
        left += [f"process {p.name}" for p in multiprocessing.active_children()]
        left += [f"thread {t.name}" for t in threading.enumerate()
                 if t not in before and t.is_alive()]
    return {"value": out, "left": left}


@requirement("shut-down")
def test_pools_shut_down(student):
    """No pool process or thread is left running when parallel_map returns"""
    what = ("parallel_map(abs, [3, -1, -4], 2, 'process') then parallel_map(time.sleep, "
            "[0.01, 0.01], 2, 'thread')")
    got = student.run(_pools_closed, timeout=TIMEOUT, what=what)
    expect_equal(got["value"], [[3, 1, 4], [None, None]], what)
    hint = ("Use the pool in a `with` block (or call shutdown()) so that its workers end before "
            "parallel_map returns.")
    if got["left"]:
        running = ", ".join(got["left"][:4])
        raise Failed(f"When {what} returned, its pool was still running ({running}): the pool "
                     f"was never shut down. {hint}", left=got["left"])
    expect_nothing_left(student.last, what, shared_memory=False, hint=hint)


@requirement("unknown-kind")
def test_unknown_kind(student):
    """An unknown kind raises ValueError (a near miss such as "Process" too, and with no data)"""
    got = student.run(_bad_kind, BAD_KINDS, timeout=TIMEOUT, what="parallel_map with unknown kinds")
    for (kind, data), raised in zip(BAD_KINDS, got if isinstance(got, list) else []):
        if raised != "ValueError":
            call = f"parallel_map(abs, {data}, 2, {kind!r})"
            raise StudentError(f"{call} raised {raised}; expected ValueError: only 'process' and "
                               "'thread' (exactly so spelt) are valid kinds, and an unknown kind "
                               "is an error even when there is no data to map.", got=raised,
                               kind=kind, data=data)
    if not isinstance(got, list) or len(got) != len(BAD_KINDS):
        raise StudentError(f"parallel_map with unknown kinds: the grader's probe got {got!r:.200}.",
                           got=repr(got)[:300])
