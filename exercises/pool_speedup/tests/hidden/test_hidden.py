"""Hidden tests for pool_speedup.

CPU-bound work is `sum` over large `range`s: a builtin that holds the GIL all the time, handed
to the student's map as a grader work item (`workitems.Item(sum)`: it pickles by name under any start
method and notes which process ran each item, and when). Whether it ran in parallel is judged
by `expect_parallel` from the kernel's CPU accounting of the processes that ran the items
(work/span) and from items of different processes overlapping in time, never from wall-clock
speedup: that stays right on 2 busy cores, where wall-clock speedups of threads and processes
overlap, and helpers that burn CPU without running items count for nothing. I/O-bound work is `time.sleep`, where overlapping threads show
in the wall time whatever the load, since sleeping needs no CPU.
"""

import random

from grader.testing import (
    Failed, StudentError, Verdict, expect_equal, expect_nothing_left, expect_own_share,
    expect_parallel, raise_for, record_evidence, requirement,
)

TIMEOUT = 10
CPU_ITEM = 2_500_000  # sum(range(CPU_ITEM)): about 0.03 s of CPU here
SLEEP, N_SLEEPS, THREADS = 0.25, 8, 4


def _cpu_map(mod, sizes, workers):
    from grader.checks.workitems import Item as work_item

    return mod.parallel_map(work_item(sum), [range(n) for n in sizes], workers, "process")


def _reference_map(mod, sizes, workers):
    """The grader's own process pool over the same work: the reference line of the plot."""
    from concurrent.futures import ProcessPoolExecutor

    from grader.checks.workitems import Item as work_item

    with ProcessPoolExecutor(workers) as pool:
        return list(pool.map(work_item(sum), [range(n) for n in sizes]))


def _sleep_map(mod, delays, workers):
    import time

    t0 = time.perf_counter()
    got = mod.parallel_map(time.sleep, list(delays), workers, "thread")
    return {"value": got, "wall": time.perf_counter() - t0}


def _echo_after(mod, delays, workers):
    """Threads: item i sleeps delays[i] and returns i (a closure: threads need no pickling)."""
    import time

    def work(i):
        time.sleep(delays[i])
        return i

    return mod.parallel_map(work, list(range(len(delays))), workers, "thread")


def _bad_kind(mod):
    try:
        mod.parallel_map(abs, [1, -2], 2, "fiber")
    except ValueError:
        return "ValueError"
    except Exception as exc:  # noqa: BLE001 - report what was raised instead
        return type(exc).__name__
    return "nothing"


_RUNS: dict = {}  # id(student) -> (the run on 2 workers, the same work on 1 worker)
# About 1 CPU-second in all: processes that live a few tenths of a second each are measured
# well by the sandbox's accounting (a much shorter one can end between two of its looks).
CPU_SIZES = [4 * CPU_ITEM] * 8
CPU_WHAT = f"parallel_map(sum, <8 ranges of {4 * CPU_ITEM}>, 2, 'process')"


def _cpu_runs(student):
    """The student's CPU-bound map on 2 workers and on 1 worker, each on cores of its own; both
    parallelism tests judge them, from the kernel's accounting."""
    if id(student) not in _RUNS:
        _RUNS[id(student)] = tuple(
            student.reply(_cpu_map, CPU_SIZES, workers, timeout=TIMEOUT, exclusive_cores=2,
                          what=f"parallel_map(sum, <8 ranges of {4 * CPU_ITEM}>, {workers}, "
                               "'process')") for workers in (2, 1))
    judged, single = _RUNS[id(student)]
    for reply in (judged, single):
        raise_for(reply)
        expect_equal(reply.value, [sum(range(n)) for n in CPU_SIZES], reply.what)
    return judged, single


@requirement("cpu-shared", "cpu-overlap")
def test_cpu_bound_processes_in_parallel(student):
    """kind="process": CPU-bound work really runs in 2 processes at once (CPU accounting)"""
    judged, single = _cpu_runs(student)
    _record_timings(student, CPU_SIZES, judged.wall, single.wall)
    expect_parallel(judged, CPU_WHAT, workers=2, cores=student.limits["cpus"],
                    hint="For kind 'process' use a ProcessPoolExecutor (or multiprocessing.Pool) "
                         "with `workers` processes, and hand it all the items before waiting "
                         "for any result.")


@requirement("cpu-shared")
def test_processes_do_not_repeat_the_work(student):
    """kind="process": each process computes its share, not every item (CPU accounting)"""
    judged, single = _cpu_runs(student)
    record_evidence(single_cpu=round(single.cpu, 3), span=round(float(judged.raw.get("span", 0)),
                    3), work=round(judged.cpu, 3))
    expect_own_share(judged, single, CPU_WHAT, workers=2,
                     hint="Hand each item to the pool once (pool.map(func, data)); a task that "
                          "maps the whole list, sent to every worker, repeats all the work.")


def _record_timings(student, sizes, wall_at_2, wall_at_1):
    """Wall times (the sandbox's clock) of the same work with 1 and 2 workers, the student's
    and the reference's, for the feedback's plot; they judge nothing (CPU accounting does)."""
    points = {1: {"workers": 1, "seconds": round(wall_at_1, 3)},
              2: {"workers": 2, "seconds": round(wall_at_2, 3)}}
    try:
        for workers in (1, 2):
            student.run(_reference_map, sizes, workers, timeout=TIMEOUT, exclusive_cores=2,
                        what=f"the grader's own pool with {workers} workers")
            points[workers]["reference"] = round(student.last.wall, 3)
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


@requirement("in-order")
def test_order_kept_processes(student, seed):
    """kind="process": results in input order, whatever order they finish in"""
    rng = random.Random(seed)
    sizes = [CPU_ITEM * 2, 1, rng.randrange(10, 100), CPU_ITEM, 5, rng.randrange(100, 1000)]
    what = f"parallel_map(sum, <ranges of sizes {sizes}>, 3, 'process')"
    got = student.run(_cpu_map, sizes, 3, timeout=TIMEOUT, what=what)
    _in_order(got, [sum(range(n)) for n in sizes], what)


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
        what = f"parallel_map(sum, {[f'range({n})' for n in sizes]}, {workers}, 'process')"
        got = student.run(_cpu_map, sizes, workers, timeout=TIMEOUT, what=what)
        expect_equal(got, [sum(range(n)) for n in sizes], what)


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
    """An unknown kind raises ValueError"""
    got = student.run(_bad_kind, timeout=TIMEOUT, what="parallel_map(abs, [1, -2], 2, 'fiber')")
    if got != "ValueError":
        raise StudentError(f"parallel_map(abs, [1, -2], 2, 'fiber') raised {got}; expected "
                           "ValueError: only 'process' and 'thread' are valid kinds.", got=got)
