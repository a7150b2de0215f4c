"""The planted-bug corpus: parallel bugs next to a correct twin, and how each is looked for.

Every pair is a folder `tests/bugs/<name>/` with `bug.py` and `twin.py`: two versions of one
small student module (the same interface; the twin is the fix). It is handed in as
`solution.py` (or the exercise's module, `Pair.module`). A pair written against an exercise's
own interface names it in `course` (exercise, mutant): what its folder does not hold comes from
`solutions/` (the reference solution as the twin, the mutant as the bug), and its check is the
exercise's own hidden test (`exercise_test`). A `Pair` says three ways to look for the bug:

- `grade(student, seed)`: what an exercise test of ours does: one sandbox request with the
  checks (`checks=`, `ranks=`, `mpi=` options) judged with the same `expect_*` helper. It raises
  a verdict when it finds something; the bug is *detected* when the verdict's status is one of
  `detects`, and the twin passes when nothing is raised.
- `stress`: plain stress testing: the same call with no checks, and the invariant a plain test
  would assert on its value (a hang or an exception also counts as found).
- `frontrun(mod)`: the `frontrun.explore(...)` arguments (setup, workers, invariant) for the
  pair, where frontrun's model (threads or tasks of one process) applies; else `frontrun_na`.

`scripts/bench_checks.py` measures them over many runs; `tests/test_bug_corpus.py` runs each
pair once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from grader.judge.expect_asyncio import (
    expect_all_awaited, expect_cancellation_respected, expect_no_asyncio_deadlock,
    expect_no_blocking,
)
from grader.judge.expect_gpu import expect_clean_kernels
from grader.judge.expect_locks import expect_no_lock_cycles, expect_no_self_deadlock, raise_for_locks
from grader.judge.expect_mpi import run_ranks
from grader.testing import (
    Failed, expect_close, expect_equal, expect_no_lost_update, expect_no_races, expect_nothing_left,
    expect_parallel,
)

from bugs import probes

HERE = Path(__file__).resolve().parent
SOLUTIONS = HERE.parents[1] / "solutions"


# ---------------------------------------------------------------- probes (run in the sandbox)

def _threads(mod, *args):
    """`mod.run(*args)`, re-raising the first exception of any thread it started (a plain test
    would see a dead thread only as a wrong value)."""
    import threading

    errors = []
    threading.excepthook = lambda hook: errors.append(hook.exc_value)
    value = mod.run(*args)
    if errors:
        raise errors[0]
    return value


def _mpi(mod, *args):
    from mpi4py import MPI

    return mod.run(MPI.COMM_WORLD, *args)


def _timed(mod, *args):
    """`mod.run(*args)` and the seconds it took (for a plain test that times the call)."""
    import time

    start = time.perf_counter()
    value = mod.run(*args)
    return [value, time.perf_counter() - start]


def _speedup(mod, n, k):
    """Sequential time of k `burn(n)` over the time of `run(n, k)`: a plain speedup test."""
    import time

    start = time.perf_counter()
    for _ in range(k):
        mod.burn(n)
    sequential = time.perf_counter() - start
    start = time.perf_counter()
    mod.run(n, k)
    return sequential / (time.perf_counter() - start)


# ---------------------------------------------------------------- the pair record

@dataclass(frozen=True)
class Stress:
    """A plain stress test: `target(*args)` with no checks, passed when `invariant(value)`."""

    target: object              # a function name of the module, or a probe above
    args: tuple
    invariant: Callable[[object], bool]
    describe: str
    timeout: float = 5.0
    options: dict = field(default_factory=dict)  # ranks=, mpi= (plain: no strict mode)


SLOW_NEEDS = ("mpi", "celery", "pp")


@dataclass(frozen=True)
class Pair:
    name: str
    bug_class: str
    how: str                    # our check, in one line: request options and the helper
    detects: tuple[str, ...]    # verdict statuses that mean "found"
    grade: Callable | None      # grade(student, seed); None: the check is not available yet
    stress: Stress
    frontrun: Callable | None = None   # frontrun(mod) -> explore() keyword arguments
    frontrun_na: str = ""
    needs: str = "threads"      # threads, asyncio, processes, mpi, opencl, celery, pp, gpu
    unavailable: str = ""       # why `grade` is None
    module: str = "solution"    # the submitted module's name (celery_canvas hands in tasks.py)
    course: tuple[str, str] = ()  # (exercise, mutant): files not in the pair's folder come from
    #                               solutions/ (the twin: the reference; the bug: the mutant)
    slow: bool | None = None    # one run takes seconds by design; None: by `needs` (SLOW_NEEDS)

    @property
    def is_slow(self) -> bool:
        """Its runs start other interpreters (mpiexec's ranks, a Celery worker, a pp server) or
        are otherwise long by design: the benchmark gives it fewer runs. A property of the pair,
        not of the machine's load when it is measured."""
        return self.needs in SLOW_NEEDS if self.slow is None else self.slow

    def source(self, variant: str) -> Path:
        own = HERE / self.name / f"{variant}.py"
        if own.exists() or not self.course:
            return own
        slug, mutant = self.course
        folder = SOLUTIONS / slug / ("mutants/" + mutant if variant == "bug" else "")
        return folder / f"{self.module}.py"


# ---------------------------------------------------------------- grading (our checks)

EXERCISES = HERE.parents[1] / "exercises"


def _hidden_tests(slug):
    """The hidden test module of exercise `slug`, loaded once."""
    import importlib.util
    import sys

    name = f"_bugs_hidden_{slug}"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(
            name, EXERCISES / slug / "tests" / "hidden" / "test_hidden.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


def exercise_test(slug, test):
    """The exercise's own hidden test `test(student)`, exactly as grading runs it. Celery runs
    are shared between the tests of one graded submission (`Student.shared_runs`): forgotten
    before each run here, so that every run of the benchmark is a new one."""
    def grade(student, seed):
        student.shared_runs.clear()
        getattr(_hidden_tests(slug), test)(student)
    return grade


def hidden_probe(slug, probe):
    """A probe function of an exercise's hidden tests (for a plain stress test of the pair)."""
    return getattr(_hidden_tests(slug), probe)

def lockset(n_threads, n):
    def grade(student, seed):
        student.call("run", n_threads, n, checks={"lockset": {}})
        expect_no_races(student.last, f"run({n_threads}, {n})")
    return grade


def oclgrind(args):
    """The kernels run under Oclgrind; an out-of-bounds access (or race, divergence) is a find."""
    def grade(student, seed):
        student.call("run", *args, checks={"oclgrind": {}}, timeout=20)
        expect_clean_kernels(student.last, f"run{args}")
    return grade


def preempt(args, expected):
    def grade(student, seed):
        got = student.call("run", *args, checks={"preempt": {"seed": seed}}, timeout=5)
        expect_no_lost_update(got, expected, f"run{args}", student.last)
    return grade


def preempt_true(args, timeout):
    """Forced switches; the value must be True (the probe re-raises threads' exceptions)."""
    def grade(student, seed):
        got = student.run(_threads, *args, checks={"preempt": {"seed": seed}}, timeout=timeout)
        expect_equal(got, True, f"run{args}")
    return grade


def lock_cycles(*args):
    def grade(student, seed):
        reply = student.reply("run", *args, checks={"lockorder": {}}, timeout=5)
        raise_for_locks(reply)
        expect_no_lock_cycles(reply)
    return grade


def self_deadlock(*args):
    def grade(student, seed):
        reply = student.reply("run", *args, checks={"lockorder": {}}, timeout=1)
        raise_for_locks(reply)
        expect_no_self_deadlock(reply)
    return grade


def hang(*args, timeout=1.0):
    def grade(student, seed):
        student.call("run", *args, timeout=timeout)
    return grade


def asyncio_check(expect, *args, timeout=5.0):
    def grade(student, seed):
        reply = student.reply("run", *args, checks={"asyncio": {}}, timeout=timeout)
        expect(reply, f"run{args}")
    return grade


def mpi_strict(*args, ranks, timeout=2.0):
    def grade(student, seed):
        run_ranks(student, _mpi, *args, ranks=ranks, strict=True, timeout=timeout,
                  what=f"run(comm) on {ranks} ranks")
    return grade


def grade_any_source(student, seed):
    values = student.run(_mpi, ranks=4, mpi={"order": "reverse"}, timeout=10)
    expect_equal(values[0], [10, 20, 30], "rank 0's run(comm) with sends arriving in reverse order")


def grade_parallel(student, seed):
    # two cores no other request uses, as expect_parallel asks (the twin's pool took turns on
    # one shared core: the 6 December run's one false positive, seed 8, local backend)
    student.call("run", 3_000_000, 2, timeout=30, exclusive_cores=2)
    expect_parallel(student.last, "run(3000000, 2)", workers=2, cores=2)


def preempt_equal(args, expected, timeout=5):
    """Forced switches (seeded); `run(*args)` must return `expected`."""
    def grade(student, seed):
        got = student.call("run", *args, checks={"preempt": {"seed": seed}}, timeout=timeout)
        expect_equal(got, expected, f"run{args} with forced thread switches")
    return grade


def left_behind(*args, timeout=5.0, **kinds):
    """`run(*args)`; nothing of the kinds asked (threads, processes, shared_memory) may be left
    when it returns."""
    def grade(student, seed):
        student.call("run", *args, timeout=timeout)
        expect_nothing_left(student.last, f"run{args}", **kinds)
    return grade


def grade_fanout(judge):
    """The fan-out probe (8 calls, each waiting until all are in flight, later inputs finishing
    first); `judge(out)` names what is wrong."""
    def grade(student, seed):
        out = student.run(probes.fanout, 8, 0.5, timeout=5)
        judge(out, "run(func, [(0,), ..., (7,)])")
    return grade


def _in_threads(out, what):
    if out["in_caller"]:
        raise Failed(f"In {what}, {out['in_caller']} of the 8 calls ran in the calling thread, "
                     "not in a thread of their own: Thread(target=func(x)) calls func at once.")


def _overlapping(out, what):
    if out["peak"] < 8:
        raise Failed(f"In {what}, at most {out['peak']} of the 8 calls were in flight at once: "
                     "each thread was joined before the next one started.")


def _in_input_order(out, what):
    expect_equal(out["value"], [x * x for x in range(8)], f"{what} with later inputs finishing "
                 "first")


def grade_left_alive(student, seed):
    student.run(probes.plain_fanout, 8, timeout=5)
    expect_nothing_left(student.last, "run(pow, [(0, 2), ..., (7, 2)])", processes=False,
                        shared_memory=False)


def disjoint_overlap(cls, method, *args):
    """`cls.method` (run under the object's lock) must be entered by two threads at once when
    they work on disjoint objects."""
    def grade(student, seed):
        out = student.run(probes.overlap, cls, method, 0.5, *args, timeout=5)
        if out["peak"] < 2:
            raise Failed(f"run{args}: two threads working on different objects never ran "
                         f"{cls}.{method} at the same time: one lock serialises them all.")
    return grade


def grade_capacity(student, seed):
    out = student.run(probes.buffer_peak, 2, 50, timeout=5)
    if out["peak"] > 2:
        raise Failed(f"A BoundedBuffer(2) held {out['peak']} items at once.")
    expect_equal(out["taken"], list(range(50)), "the items taken from a BoundedBuffer(2)")


def grade_slow_producer(student, seed):
    values = list(range(0, 60, 3))
    got = student.run(probes.slow_producer, values, 3, 0.03, timeout=3)
    expect_equal(got, {v: _fib(v) for v in values}, "run(values, 3) with a slow producer")


def _fib(n):
    a, b = 0, 1
    for _ in range(n):
        a, b = b, a + b
    return a


WORK_ITEMS = [(7, 1_600_000), (11, 1_600_000)]  # churn (seed, steps): ~0.2 s of CPU each


def grade_process_items(student, seed):
    from grader.checks import workitems

    what = f"run(work, {[(t,) for t in WORK_ITEMS]})"
    student.run(probes.items_in_processes, WORK_ITEMS, timeout=30, exclusive_cores=2, what=what)
    expect_parallel(student.last, what, workers=2, cores=2,
                    items=[workitems.digest((t,)) for t in WORK_ITEMS])


def grade_spawn(student, seed):
    got = student.call("run", [1, 2, 3], start_method="spawn", timeout=10)
    expect_equal(got, [1, 4, 9], "run([1, 2, 3]) under spawn")


def fetch_limit(bound):
    """fetch_all(12 urls, limit 3) through the peak probe: `bound` is "at most" (no more than
    3 in flight) or "kept busy" (3 in flight at once)."""
    def grade(student, seed):
        out = student.run(probes.fetch_peak, 12, 3, 0.3, timeout=5)
        what = "fetch_all(12 urls, fetch, 3)"
        if bound == "at most" and out["peak"] > 3:
            raise Failed(f"{what} had {out['peak']} fetches in flight at once; the limit is 3.")
        if bound == "kept busy" and out["peak"] < 3:
            raise Failed(f"In {what}, never more than {out['peak']} fetch(es) in flight at once.")
        expect_equal(out["value"], [f"<{i}>" for i in range(12)], what)
    return grade


def grade_losers(student, seed):
    out = student.run(probes.losers, 3, timeout=5)
    if out["still_running"]:
        raise Failed(f"first_success returned {out['value']!r}, but the coroutines "
                     f"{out['still_running']} were still running: cancel the losers.")


def grade_semaphore(student, seed):
    out = student.run(probes.limited, 8, 2, 0.3, timeout=5)
    what = "run(func, range(8), max_concurrent=2)"
    if out["peak"] > 2:
        raise Failed(f"{what} had {out['peak']} calls in flight at once; at most 2 may be.")
    expect_equal(out["value"], [-x for x in range(8)], what)


def grade_no_qsize(student, seed):
    got = student.run(probes.no_qsize, list(range(12)), 2, timeout=5)
    expect_equal(got, {x: x * x for x in range(12)}, "run(range(12), 2) with qsize() as on macOS")


HIST_VALUES = [x * x for x in range(30)]  # sorted, uneven: each chunk has a range of its own


def grade_histogram(student, seed):
    import numpy as np

    got = student.call("run", HIST_VALUES, 5, 3, timeout=10)
    expect_equal(got, np.histogram(HIST_VALUES, 5)[0].tolist(),
                 "run(squares of range(30), 5, 3)")


def grade_opencl_sum(student, seed):
    got = student.call("run", 1000, timeout=20)
    expect_equal(got, [11 * i for i in range(1000)], "run(1000): a + b with b = 10 * a")


STATS_DATA = [float(x) for x in range(10)]


def grade_stats(student, seed):
    values = run_ranks(student, probes.mpi_root_data, STATS_DATA, ranks=3, strict=False,
                       timeout=10, what="run(comm, 10 values) on 3 ranks")
    expect_close(values[0], [4.5, 2.8722813232690143], "rank 0's (mean, std)", 1e-9)
    expect_equal(values[1:], [None, None], "ranks 1 and 2's values")


def grade_pi(student, seed):
    values = run_ranks(student, _mpi, 100_000, ranks=3, strict=False, timeout=10,
                       what="run(comm, 100000) on 3 ranks")
    expect_close(values[0], 3.141592653589793, "rank 0's pi", 1e-8)


def halo(dims, shape, strict):
    """The exercise's halo check (`expect_halo` of mpi_cart_halo) on one grid: each rank's result
    against its window of numpy.pad(global, 1, mode="wrap"); strict: synchronous sends."""
    def grade(student, seed):
        hidden = _hidden_tests("mpi_cart_halo")
        hidden.expect_halo(student, hidden._halo, dims, shape, strict=strict)
    return grade


def _halo_right(dims, shape):
    """A plain test's invariant: every rank's block of numpy.pad(global, 1, mode="wrap")."""
    import numpy as np

    h, w = shape
    whole = np.arange(dims[0] * h * dims[1] * w).reshape(dims[0] * h, dims[1] * w)
    padded = np.pad(whole, 1, mode="wrap")

    def invariant(values):
        return isinstance(values, list) and len(values) == dims[0] * dims[1] and all(
            np.array_equal(got, padded[i * h:i * h + h + 2, j * w:j * w + w + 2])
            for (i, j), got in zip(((r // dims[1], r % dims[1]) for r in range(len(values))),
                                   values))
    return invariant


# ---------------------------------------------------------------- frontrun adapters

def _two(call, count=2):
    return [call] * count


def fr_counter(mod):
    return dict(setup=mod.Counter, workers=_two(lambda c: c.add()), invariant=lambda c: c.n == 2)


def fr_global(mod):
    def setup():
        import threading

        mod.total, mod.lock = 0, threading.Lock()  # made under frontrun's patched threading
        return mod
    return dict(setup=setup, workers=_two(lambda m: m.add()), invariant=lambda m: m.total == 2)


def fr_dict(mod):
    return dict(setup=lambda: mod.WordCount(["a"]), workers=_two(lambda w: w.add("a")),
                invariant=lambda w: w.counts["a"] == 2)


def fr_log(mod):
    return dict(setup=lambda: {"log": mod.Log(), "ids": []},
                workers=[lambda s, x=x: s["ids"].append(s["log"].add(x)) for x in "ab"],
                invariant=lambda s: sorted(s["ids"]) == [0, 1])


def fr_cache(mod):
    return dict(setup=mod.Cache, workers=_two(lambda c: c.get(0)), invariant=lambda c: c.made == [0])


def fr_buffer(mod):
    def consume(s):
        s["out"].append(s["buf"].get())

    def produce(s):
        s["buf"].put(0)
        s["buf"].put(1)
    return dict(setup=lambda: {"buf": mod.Buffer(), "out": []}, workers=[consume, consume, produce],
                invariant=lambda s: sorted(s["out"]) == [0, 1])


def fr_mailbox(mod):
    def main(s):
        s["requests"].put(1)
        s["got"].append(s["replies"].get())

    def worker(s):
        s["replies"].put(2 * s["requests"].get())
    return dict(setup=lambda: {"requests": mod.Mailbox(), "replies": mod.Mailbox(), "got": []},
                workers=[main, worker], invariant=lambda s: s["got"] == [2])


def fr_bank(n):
    def adapter(mod):
        return dict(setup=lambda: mod.Bank(n),
                    workers=[lambda b, s=s: b.transfer(s, (s + 1) % n, 1) for s in range(n)],
                    invariant=lambda b: sum(b.balances) == 100 * n)
    return adapter


def fr_account(mod):
    return dict(setup=mod.Account, workers=_two(lambda a: a.deposit(1)),
                invariant=lambda a: a.balance == 2)


def fr_philosophers(mod):
    import asyncio

    n = 3

    def seat(i):
        async def dine(forks):
            await mod.philosopher(i, forks, 1)
        return dine
    return dict(setup=lambda: [asyncio.Lock() for _ in range(n)], workers=[seat(i) for i in range(n)],
                invariant=lambda forks: not any(f.locked() for f in forks))


def fr_overdraft(mod):
    return dict(setup=lambda: mod.Bank({"A": 100, "B": 0, "C": 0}),
                workers=[lambda b, d=d: b.transfer("A", d, 100) for d in "BC"],
                invariant=lambda b: b.balances["A"] >= 0)


# ---------------------------------------------------------------- the corpus

def _equals(expected):
    return lambda value: value == expected


NOT_THREADS = "frontrun explores schedules of threads or asyncio tasks in one process; "
NOT_CELERY = NOT_THREADS + "Celery tasks run in a worker's processes"
NOT_PP = NOT_THREADS + "pp jobs run in the server's worker processes"
NOT_GPU = "a CUDA kernel is not Python threads"
CELERY_VALUES = [5, 42, 10, 14, 45]
CELERY_PLAIN = ("eager mode (task_always_eager, memory:// broker): add(2, 3), mul(6, 7), xsum([1, 2, 3, 4]), "
                "sum_of_squares([1, 2, 3]), pipeline(5) == [5, 42, 10, 14, 45]")
PP_PLAIN = "submit_all(server, work, [5, 2, 7], callback) == {x: [x, x * x]}"
MATMUL_3 = [[15.0, 18.0, 21.0], [42.0, 54.0, 66.0], [69.0, 90.0, 111.0]]  # arange(9) @ itself
HALO_PLAIN = "2x2 grid, 2x5 blocks: each rank's window of numpy.pad(global, 1, mode='wrap')"

def _celery_pair(name, bug_class, how, test, mutant):
    """A celery_canvas pair: the exercise's hidden `test` is the check, the mutant the bug, and
    plain stress the tasks run eagerly."""
    return Pair(name, bug_class, how, ("failed",), exercise_test("celery_canvas", test),
                Stress(probes.celery_eager, (), _equals(CELERY_VALUES), CELERY_PLAIN, timeout=10),
                frontrun_na=NOT_CELERY, needs="celery", module="tasks",
                course=("celery_canvas", mutant))


def _pp_right(out):
    return isinstance(out, dict) and out.get("got") == {x: [x, x * x] for x in (5, 2, 7)}

PAIRS = [
    Pair("lost_update_attr", "lost update through an attribute (`self.n += 1`)",
         "lockset check; expect_no_races", ("race",), lockset(4, 200),
         Stress("run", (8, 20000), _equals(160000), "run(8, 20000) == 160000"),
         fr_counter),
    Pair("lost_update_global", "lost update through a global (`total += 1`)",
         "lockset check; expect_no_races", ("race",), lockset(4, 200),
         Stress("run", (8, 20000), _equals(160000), "run(8, 20000) == 160000"),
         fr_global),
    Pair("lost_update_dict", "lost update through a dict item (`counts[w] += 1`)",
         "preempt check (forced switches, seeded); expect_no_lost_update", ("race",),
         preempt((4, 2000), 8000),
         Stress("run", (8, 20000), _equals(160000), "run(8, 20000) == 160000"),
         fr_dict),
    Pair("list_append_then_read", "list append, then read back its index",
         "preempt check; expect_no_lost_update on entries found at their index", ("race",),
         preempt((4, 500), 2000),
         Stress("run", (8, 5000), _equals(40000), "run(8, 5000) == 40000"), fr_log),
    Pair("check_then_act", "check-then-act (`if k not in cache: cache[k] = make(k)`)",
         "preempt check; expect_no_lost_update on the number of keys made", ("race",),
         preempt((4, 500), 500),
         Stress("run", (8, 5000), _equals(5000), "run(8, 5000) == 5000"), fr_cache),
    Pair("lock_per_call", "a new lock per call (`with threading.Lock():`)",
         "lockset check; expect_no_races", ("race",), lockset(4, 200),
         Stress("run", (8, 20000), _equals(160000), "run(8, 20000) == 160000"),
         fr_counter),
    Pair("if_instead_of_while", "`if` instead of `while` around `Condition.wait()`",
         "preempt check; thread exceptions re-raised (IndexError: error verdict)", ("error",),
         preempt_true((2, 200), timeout=5),
         Stress(_threads, (2, 200), _equals(True), "run(2, 200) is True, no thread raised"),
         fr_buffer),
    Pair("lost_wakeup_event", "lost wake-up with `Event.set()`/`clear()`",
         "preempt check; a hang is a deadlock verdict (timeout 2 s)", ("deadlock",),
         preempt_true((200,), timeout=2),
         Stress(_threads, (200,), _equals(True), "run(200) is True within 2 s", timeout=2),
         fr_mailbox),
    Pair("lock_order_two", "two-lock order inversion (bank transfer)",
         "lockorder check; raise_for_locks + expect_no_lock_cycles", ("deadlock",),
         lock_cycles(20),
         Stress("run", (100,), _equals([100, 100]), "run(100) == [100, 100] within 5 s"),
         fr_bank(2)),
    Pair("lock_order_three", "three-lock order inversion (a ring of transfers)",
         "lockorder check; raise_for_locks + expect_no_lock_cycles", ("deadlock",),
         lock_cycles(20),
         Stress("run", (100,), _equals([100, 100, 100]), "run(100) == [100] * 3 within 5 s"),
         fr_bank(3)),
    Pair("rlock_reentry", "re-entry that needs an RLock, with a Lock",
         "lockorder check (timeout 1 s); raise_for_locks + expect_no_self_deadlock", ("deadlock",),
         self_deadlock(2, 50),
         Stress("run", (2, 50), _equals(100), "run(2, 50) == 100 within 1 s", timeout=1),
         fr_account),
    Pair("queue_consumer_never_stops", "queue consumers that never stop (no sentinel)",
         "no check needed: the hang itself, told apart as a deadlock (timeout 1 s)", ("deadlock",),
         hang(list(range(20)), 3),
         Stress("run", (list(range(20)), 3), _equals([x * x for x in range(20)]),
                "run(range(20), 3) == squares within 1 s", timeout=1),
         frontrun_na="the consumers are threads started inside run(); frontrun needs the workers "
                     "as separate callables, and the hang is certain on every schedule"),
    Pair("asyncio_lock_inversion", "asyncio lock inversion (dining philosophers)",
         "asyncio check (timeout 1 s); expect_no_asyncio_deadlock", ("deadlock",),
         asyncio_check(expect_no_asyncio_deadlock, 5, 3, timeout=1),
         Stress("run", (5, 3), _equals(15), "run(5, 3) == 15 within 1 s", timeout=1),
         fr_philosophers, needs="asyncio"),
    Pair("asyncio_blocking_sleep", "blocking `time.sleep` in a coroutine",
         "asyncio check; expect_no_blocking", ("failed",),
         asyncio_check(expect_no_blocking, 5, 0.06),
         Stress(_timed, (5, 0.06), lambda v: v[0] == [i * i for i in range(5)] and v[1] < 0.18,
                "run(5, 0.06) right and faster than 3 x 0.06 s"),
         frontrun_na=NOT_THREADS + "a blocked loop is a timing property, not an interleaving",
         needs="asyncio"),
    Pair("asyncio_blocking_slices", "blocking `time.sleep` cut into short slices with awaits between",
         "asyncio check (blocked time of short steps added up per task); expect_no_blocking",
         ("failed",), asyncio_check(expect_no_blocking, 5, 0.08),
         Stress(_timed, (5, 0.08), lambda v: v[0] == [i * i for i in range(5)] and v[1] < 0.24,
                "run(5, 0.08) right and faster than 3 x 0.08 s"),
         frontrun_na=NOT_THREADS + "a blocked loop is a timing property, not an interleaving",
         needs="asyncio"),
    Pair("asyncio_unawaited", "un-awaited coroutine",
         "asyncio check; expect_all_awaited", ("failed",),
         asyncio_check(expect_all_awaited, [1, 2, 3]),
         Stress("run", ([1, 2, 3],), _equals([10, 20, 30]), "run([1, 2, 3]) == [10, 20, 30]"),
         frontrun_na=NOT_THREADS + "the bug is sequential (the body never runs in any schedule)",
         needs="asyncio"),
    Pair("asyncio_swallowed_cancel", "swallowed `CancelledError`",
         "asyncio check; expect_cancellation_respected", ("failed",),
         asyncio_check(expect_cancellation_respected),
         Stress("run", (), _equals("cancelled"), "run() == 'cancelled'"),
         frontrun_na=NOT_THREADS + "the bug is sequential (same outcome in every schedule)",
         needs="asyncio"),
    Pair("mpi_send_send", "MPI send-send exchange at 10 elements",
         "2 ranks, mpi strict mode (synchronous sends); run_ranks explains the hang",
         ("deadlock",), mpi_strict(10, ranks=2),
         Stress(_mpi, (10,), lambda v: [list(x) for x in v] == [[1] * 10, [0] * 10],
                "2 ranks swap 10 elements", timeout=2, options={"ranks": 2}),
         frontrun_na="MPI ranks are processes under mpiexec", needs="mpi"),
    Pair("mpi_send_send_large", "MPI send-send exchange of 8 MB (twin: Irecv, Send, Wait)",
         "2 ranks, mpi strict mode, 2,000,000 ints; run_ranks explains the hang (the twin's "
         "8 MB transfer must not read as one)", ("deadlock",), mpi_strict(2_000_000, ranks=2, timeout=10),
         Stress(_mpi, (2_000_000,), lambda v: v == [2_000_000, 0],
                "2 ranks swap 8 MB", timeout=10, options={"ranks": 2}),
         frontrun_na="MPI ranks are processes under mpiexec", needs="mpi"),
    Pair("mpi_recv_recv", "MPI recv-recv exchange",
         "2 ranks, mpi strict mode; run_ranks explains the hang", ("deadlock",),
         mpi_strict(10, ranks=2),
         Stress(_mpi, (10,), lambda v: [list(x) for x in v] == [[1] * 10, [0] * 10],
                "2 ranks swap 10 elements", timeout=2, options={"ranks": 2}),
         frontrun_na="MPI ranks are processes under mpiexec", needs="mpi"),
    Pair("mpi_any_source_order", "`ANY_SOURCE` arrival-order assumption",
         "4 ranks, mpi order 'reverse' (forced arrival order); expect_equal on rank 0",
         ("failed",), grade_any_source,
         Stress(_mpi, (), lambda v: v[0] == [10, 20, 30], "rank 0 gets [10, 20, 30] from 4 ranks",
                timeout=10, options={"ranks": 4}),
         frontrun_na="MPI ranks are processes under mpiexec", needs="mpi"),
    Pair("mpi_barrier_skipped", "a collective skipped by one rank",
         "3 ranks, mpi strict mode; run_ranks explains the hang", ("deadlock",),
         mpi_strict(ranks=3),
         Stress(_mpi, (), _equals([3, 3, 3]), "3 ranks return 3 within 2 s", timeout=2,
                options={"ranks": 3}),
         frontrun_na="MPI ranks are processes under mpiexec", needs="mpi"),
    Pair("gil_threads_as_parallel", "GIL-bound threads posing as parallel",
         "work/span of the process tree's CPU time; expect_parallel(workers=2, cores=2)",
         ("failed",), grade_parallel,
         Stress(_speedup, (3_000_000, 2), lambda s: s >= 1.5,
                "wall-clock speedup of run(3e6, 2) over sequential >= 1.5", timeout=30),
         frontrun_na="a speedup is not an interleaving property", needs="processes"),
    Pair("mp_value_increment", "`v.value += 1` on a shared multiprocessing.Value",
         "preempt check (forced switches in the child processes too); expect_no_lost_update",
         ("race",), preempt((2, 2000), 4000),
         Stress("run", (2, 2000), _equals(4000), "run(2, 2000) == 4000"),
         frontrun_na="frontrun's process mode is for SQL/Redis state shared by processes, not "
                     "multiprocessing.Value", needs="processes"),
    Pair("opencl_no_bounds_check", "OpenCL kernel without a bounds check",
         "Oclgrind check (grader.judge.expect_gpu)", ("failed",), oclgrind((1000,)),
         Stress("run", (1000,), lambda v: list(v) == [2.0 * i for i in range(1000)],
                "run(1000) == 2 * arange(1000) (PoCL)", timeout=20),
         frontrun_na="an OpenCL kernel is not Python threads", needs="opencl"),
    # ---- one pair per remaining bug class of the curriculum (../shared/curriculum.md)
    Pair("thread_target_called", "`Thread(target=f(x))`: the work runs in the caller",
         "fan-out probe records each call's thread; none may be the caller's", ("failed",),
         grade_fanout(_in_threads),
         Stress(probes.plain_fanout, (20,), _equals([x * x for x in range(20)]),
                "run(pow, 20 args) == squares"),
         frontrun_na="the bug is sequential (the same thread runs the work in every schedule)"),
    Pair("serial_start_join", "start and join inside the loop (threads run one at a time)",
         "fan-out probe: every call waits (0.5 s at most) until all 8 are in flight",
         ("failed",), grade_fanout(_overlapping),
         Stress(probes.plain_fanout, (20,), _equals([x * x for x in range(20)]),
                "run(pow, 20 args) == squares"),
         frontrun_na="serial execution is a property of every schedule, not an interleaving"),
    Pair("results_out_of_order", "results in completion order, not input order",
         "fan-out probe: later inputs finish first; expect_equal on the order", ("failed",),
         grade_fanout(_in_input_order),
         Stress(probes.plain_fanout, (20,), _equals([x * x for x in range(20)]),
                "run(pow, 20 args) == squares"),
         frontrun_na="the threads are started inside run(); frontrun needs the workers as "
                     "separate callables"),
    Pair("threads_left_alive", "threads still running when the call returns (never joined)",
         "the sandbox lists threads alive after the call; expect_nothing_left", ("failed",),
         grade_left_alive,
         Stress(probes.plain_fanout, (20,), _equals([x * x for x in range(20)]),
                "run(pow, 20 args) == squares"),
         frontrun_na="threads outliving the call are not a property of an interleaving"),
    Pair("lock_not_released_on_error", "lock not released when the guarded code raises",
         "no check needed: the hang, told apart as a deadlock (timeout 1 s)", ("deadlock",),
         hang(2, 100, timeout=1),
         Stress("run", (2, 100), _equals(200), "run(2, 100) == 200 within 1 s", timeout=1),
         frontrun_na="the hang is certain on every schedule (the first call keeps the lock)"),
    Pair("class_level_lock", "a class-level lock shared by every object (boxes wait for each "
         "other)", "overlap probe: execute() of two boxes must run at once (0.5 s at most)",
         ("failed",), disjoint_overlap("Box", "execute", 2, 20),
         Stress("run", (2, 20), _equals([20, 20]), "run(2, 20) == [20, 20]"),
         frontrun_na="serialisation by one lock is a property of every schedule; frontrun "
                     "checks an invariant on the final state"),
    Pair("one_global_lock", "one lock for the whole bank (transfers on disjoint accounts never "
         "overlap)", "overlap probe: _apply() of A->B and C->D must run at once (0.5 s at most)",
         ("failed",), disjoint_overlap("Bank", "_apply", 20),
         Stress("run", (20,), _equals([0, 20, 0, 20]), "run(20) == [0, 20, 0, 20]"),
         frontrun_na="serialisation by one lock is a property of every schedule; frontrun "
                     "checks an invariant on the final state"),
    Pair("capacity_exceeded", "a bounded buffer that holds one item more than its capacity",
         "peak probe: the buffer's length after every put, against its capacity", ("failed",),
         grade_capacity,
         Stress("run", (2, 200), _equals(list(range(200))), "run(2, 200) == range(200)"),
         frontrun_na="the capacity is a property of every moment; frontrun checks its invariant "
                     "once, on the final state"),
    Pair("overdraft_check_outside_lock", "money created: funds checked before the locks "
         "(check-then-act)", "preempt check; expect_equal on the rounds overdrawn", ("failed",),
         preempt_equal((30,), 0),
         Stress("run", (300,), _equals(0), "run(300) == 0 rounds overdrawn"), fr_overdraft),
    Pair("peek_then_get", "items processed twice or lost (peek at the head, then get)",
         "preempt check; expect_equal on the items processed", ("failed",),
         preempt_equal((4, 200), list(range(200))),
         Stress("run", (8, 2000), _equals(list(range(2000))), "run(8, 2000) == range(2000)"),
         frontrun_na="the workers are threads started inside run(); frontrun needs them as "
                     "separate callables"),
    Pair("daemon_hides_shutdown", "daemon workers never stopped (daemon=True hides the missing "
         "shutdown)", "the sandbox lists threads alive after the call; expect_nothing_left",
         ("failed",), left_behind(list(range(20)), 3, processes=False, shared_memory=False),
         Stress("run", (list(range(20)), 3), _equals([x * x for x in range(20)]),
                "run(range(20), 3) == squares"),
         frontrun_na="threads outliving the call are not a property of an interleaving"),
    Pair("process_serial_start_join", "processes started and joined one at a time",
         "work items (grader.checks.workitems) overlapping in time; expect_parallel(items=...)",
         ("failed",), grade_process_items,
         Stress(probes.plain_speedup, (10_000_000,), lambda s: s >= 1.5,
                "wall-clock speedup of run(sum, 2 ranges of 1e7) over sequential >= 1.5",
                timeout=30),
         frontrun_na="a speedup is not an interleaving property", needs="processes"),
    Pair("child_left_running", "an overdue child process never terminated",
         "the sandbox lists processes alive after the call; expect_nothing_left", ("failed",),
         left_behind(5, 0.2, threads=False, shared_memory=False),
         Stress("run", (5, 0.2), _equals(-15), "run(5, 0.2) == -SIGTERM"),
         frontrun_na="processes, not threads of one interpreter", needs="processes"),
    Pair("empty_as_stop_test", "consumers stop on `queue.empty()` (values lost, the caller "
         "waits)", "slow-producer probe (each value takes 30 ms to put); the hang is a deadlock",
         ("deadlock",), grade_slow_producer,
         Stress("run", (list(range(0, 60, 3)), 3), _equals({v: _fib(v) for v in range(0, 60, 3)}),
                "run(values, 3) == {n: fib(n)} within 3 s", timeout=3),
         frontrun_na="multiprocessing consumers are processes", needs="processes"),
    Pair("pipe_end_left_open", "an unused pipe end left open (the reader never sees EOF)",
         "no check needed: the hang, told apart as a deadlock (timeout 2 s)", ("deadlock",),
         hang(10, timeout=2),
         Stress("run", (10,), _equals([x * x for x in range(10)]), "run(10) == squares within 2 s",
                timeout=2),
         frontrun_na="processes joined by pipes, not threads of one interpreter",
         needs="processes"),
    Pair("nested_target_fork_only", "works under fork only (a nested target function)",
         "the call under the spawn start method", ("error",), grade_spawn,
         Stress("run", ([1, 2, 3],), _equals([1, 4, 9]), "run([1, 2, 3]) == [1, 4, 9]"),
         frontrun_na="the start method of processes is not an interleaving", needs="processes"),
    Pair("shm_never_unlinked", "shared memory closed but never unlinked",
         "the sandbox lists segments left in /dev/shm; expect_nothing_left", ("failed",),
         left_behind([1, 2, 3], threads=False, processes=False),
         Stress("run", ([1, 2, 3],), _equals([2, 4, 6]), "run([1, 2, 3]) == [2, 4, 6]"),
         frontrun_na="a leaked segment is not an interleaving property", needs="processes"),
    Pair("asyncio_unbounded_gather", "unbounded concurrency (gather with no limit)",
         "peak probe: fetches in flight never above the limit", ("failed",),
         fetch_limit("at most"),
         Stress(probes.plain_fetch, (12, 3), _equals([f"<{i}>" for i in range(12)]),
                "fetch_all(12 urls, fetch, 3) == results in order"),
         frontrun_na=NOT_THREADS + "the peak in flight is the same in every schedule",
         needs="asyncio"),
    Pair("asyncio_sequential_awaits", "sequential awaits (one fetch at a time)",
         "peak probe: each fetch waits (0.3 s at most) until the limit is in flight",
         ("failed",), fetch_limit("kept busy"),
         Stress(probes.plain_fetch, (12, 3), _equals([f"<{i}>" for i in range(12)]),
                "fetch_all(12 urls, fetch, 3) == results in order"),
         frontrun_na=NOT_THREADS + "the bug is sequential (the same in every schedule)",
         needs="asyncio"),
    Pair("asyncio_losers_not_cancelled", "first_success leaves the losing tasks running",
         "probe: after the call, the losers' state (cancelled or still running)", ("failed",),
         grade_losers,
         Stress(probes.losers, (3,), lambda v: v["value"] == "fast", "first_success(...) == 'fast'"),
         frontrun_na=NOT_THREADS + "the bug is sequential (the same in every schedule)",
         needs="asyncio"),
    Pair("mpi_uneven_chunks", "length not divisible by the rank count (the remainder dropped)",
         "3 ranks, 10 values; expect_close on rank 0's (mean, std)", ("failed",), grade_stats,
         Stress(probes.mpi_root_data, (STATS_DATA,),
                lambda v: v[1:] == [None, None] and abs(v[0][0] - 4.5) < 1e-9
                and abs(v[0][1] - 2.8722813232690143) < 1e-9,
                "3 ranks, 10 values: rank 0 gets (4.5, 2.87...), the others None", timeout=10,
                options={"ranks": 3}),
         frontrun_na="MPI ranks are processes under mpiexec", needs="mpi"),
    Pair("mpi_result_on_every_rank", "results on non-root ranks (allreduce where reduce is "
         "asked)", "3 ranks; expect_equal on ranks 1 and 2 (None)", ("failed",), grade_stats,
         Stress(probes.mpi_root_data, (STATS_DATA,),
                lambda v: v[1:] == [None, None] and abs(v[0][0] - 4.5) < 1e-9,
                "3 ranks, 10 values: rank 0 gets the mean, the others None", timeout=10,
                options={"ranks": 3}),
         frontrun_na="MPI ranks are processes under mpiexec", needs="mpi"),
    Pair("mpi_ring_blocking_sends", "ring exchange with blocking sends first (deadlock on large "
         "buffers)", "3 ranks, mpi strict mode (synchronous sends); run_ranks explains the hang",
         ("deadlock",), mpi_strict(10, ranks=3),
         Stress(_mpi, (10,), _equals([[6] * 10] * 3), "3 ranks, 10 elements: each gets 6s",
                timeout=2, options={"ranks": 3}),
         frontrun_na="MPI ranks are processes under mpiexec", needs="mpi"),
    Pair("mpi_pi_drops_remainder", "the result depends on the rank count (intervals left over)",
         "3 ranks, n = 100000; expect_close(pi, 1e-8) on rank 0", ("failed",), grade_pi,
         Stress(_mpi, (100_000,), lambda v: abs(v[0] - 3.141592653589793) < 1e-8,
                "3 ranks, n = 100000: rank 0 within 1e-8 of pi", timeout=10,
                options={"ranks": 3}),
         frontrun_na="MPI ranks are processes under mpiexec", needs="mpi"),
    Pair("semaphore_per_thread", "peak concurrency above the limit (a Semaphore per thread)",
         "limit probe: each call waits (0.3 s at most) for one call more than the limit",
         ("failed",), grade_semaphore,
         Stress(probes.plain_limited, (20, 2), _equals(list(range(20))),
                "run(abs, [0, -1, ..., -19], 2) == range(20)"),
         frontrun_na="the peak in flight is a property of every moment; frontrun checks its "
                     "invariant once, on the final state"),
    Pair("notify_instead_of_notify_all", "`notify` where `notify_all` is needed (one Condition, "
         "producers and consumers)", "preempt check; a hang is a deadlock verdict (timeout 3 s)",
         ("deadlock",), preempt_true((2, 200), timeout=3),
         Stress(_threads, (2, 200), _equals(True), "run(2, 200) is True within 3 s", timeout=3),
         frontrun_na="the threads are started inside run(); frontrun needs the workers as "
                     "separate callables"),
    Pair("qsize_not_portable", "`Queue.qsize()` relied on (NotImplementedError on macOS)",
         "probe: qsize() raises as on macOS", ("error",), grade_no_qsize,
         Stress("run", (list(range(12)), 2), _equals({x: x * x for x in range(12)}),
                "run(range(12), 2) == squares (on Linux)"),
         frontrun_na="a platform's missing qsize() is not an interleaving", needs="processes"),
    Pair("histogram_chunk_bins", "wrong bins: each process bins its chunk over its own range",
         "expect_equal against numpy.histogram on sorted data (chunks of different ranges)",
         ("failed",), grade_histogram,
         Stress("run", (HIST_VALUES, 5, 3), _equals([13, 6, 4, 3, 4]),
                "run(squares of range(30), 5, 3) == numpy.histogram's [13, 6, 4, 3, 4]"),
         frontrun_na="processes, not threads of one interpreter", needs="processes"),
    Pair("opencl_int64_to_int", "int64 host data passed to an `int*` kernel",
         "expect_equal on the kernel's sums", ("failed",), grade_opencl_sum,
         Stress("run", (1000,), _equals([11 * i for i in range(1000)]), "run(1000) == 11 * i"),
         frontrun_na="an OpenCL kernel is not Python threads", needs="opencl", slow=True),
    # ---- Celery, pp, MPI Cartesian topologies, GPUs and edge cases of the curriculum: the
    # exercises' own hidden tests (`exercise_test`) are the checks
    _celery_pair("celery_sync_get_in_task", "`result.get()` inside a task (Celery's guard switched off)",
         "celery_canvas's test_no_result_get_inside_tasks: a real worker records every "
         "result.get() a task makes; expect_no_sync_get", "test_no_result_get_inside_tasks", "get_in_task"),
    _celery_pair("celery_global_state", "state shared through a module global (works eagerly, wrong on "
         "a prefork worker)", "celery_canvas's test_correct_on_a_prefork_worker: a fresh pool "
         "process per task; expect_steps", "test_correct_on_a_prefork_worker", "global_state"),
    _celery_pair("celery_group_not_chord", "wrong canvas type: a group where a chord is asked (the "
         "callback never runs)", "celery_canvas's test_sum_of_squares_is_a_chord: the canvas "
         "type and the tasks the worker ran; expect_steps", "test_sum_of_squares_is_a_chord", "group_not_chord"),
    _celery_pair("celery_no_acks_late", "a task lost when its worker process dies (acknowledged "
                 "early: never delivered again)", "celery_canvas's "
                 "test_tasks_survive_a_killed_worker_process: the pool process running each task "
                 "is killed; expect_survives_worker_loss",
                 "test_tasks_survive_a_killed_worker_process", "no_acks_late"),
    _celery_pair("celery_chord_body_ignores_header", "a chord whose callback ignores its header's "
                 "results (an immutable body, `xsum.si(...)`, with values the caller computed)",
                 "celery_canvas's test_sum_of_squares_is_a_chord: the chord's body as built "
                 "(immutable or not); expect_steps", "test_sum_of_squares_is_a_chord",
                 "body_ignores_header"),
    _celery_pair("celery_lost_task_not_retried", "a failure recorded instead of retried: "
                 "acks_late=True without reject_on_worker_lost=True (a killed worker process's "
                 "task is marked failed, never delivered again)", "celery_canvas's "
                 "test_tasks_survive_a_killed_worker_process: the pool process running each task "
                 "is killed; expect_survives_worker_loss",
                 "test_tasks_survive_a_killed_worker_process", "acks_late_only"),
    Pair("pp_double_callback", "pp callbacks fired twice (passed to submit and called again)",
         "pp_job_server's test_each_callback_exactly_once: every callback call recorded",
         ("failed",), exercise_test("pp_job_server", "test_each_callback_exactly_once"),
         Stress(hidden_probe("pp_job_server", "_jobs"), ([5, 2, 7], False), _pp_right,
                PP_PLAIN, timeout=12), frontrun_na=NOT_PP, needs="pp",
         course=("pp_job_server", "")),
    Pair("pp_lost_callbacks", "pp callbacks lost (returns before the jobs finished)",
         "pp_job_server's test_each_callback_exactly_once: the calls made when submit_all "
         "returns", ("failed",), exercise_test("pp_job_server", "test_each_callback_exactly_once"),
         Stress(hidden_probe("pp_job_server", "_jobs"), ([5, 2, 7], False), _pp_right,
                PP_PLAIN, timeout=12), frontrun_na=NOT_PP, needs="pp",
         course=("pp_job_server", "lost_callbacks")),
    Pair("pp_late_binding_lambda", "pp results mixed up (a lambda in the loop sees the last "
         "input)", "pp_job_server's test_callbacks_get_their_own_input: tagged results",
         ("failed",), exercise_test("pp_job_server", "test_callbacks_get_their_own_input"),
         Stress(hidden_probe("pp_job_server", "_jobs"), ([5, 2, 7], False), _pp_right,
                PP_PLAIN, timeout=12), frontrun_na=NOT_PP, needs="pp",
         course=("pp_job_server", "late_binding_lambda")),
    Pair("mpi_cart_not_periodic", "Cartesian grid created without wrap-around (periodic flags "
         "False)", "2x2 grid; mpi_cart_halo's expect_halo against numpy.pad(mode='wrap')",
         ("failed",), halo((2, 2), (2, 5), strict=False),
         Stress(hidden_probe("mpi_cart_halo", "_halo"), ([2, 2], [2, 5], "int64"),
                _halo_right((2, 2), (2, 5)), HALO_PLAIN, timeout=5, options={"ranks": 4}),
         frontrun_na="MPI ranks are processes under mpiexec", needs="mpi",
         course=("mpi_cart_halo", "")),
    Pair("mpi_cart_rank_arithmetic", "neighbours from rank arithmetic, not the Cartesian "
         "communicator (the shift off by a row)", "2x2 grid; mpi_cart_halo's expect_halo",
         ("failed",), halo((2, 2), (2, 5), strict=False),
         Stress(hidden_probe("mpi_cart_halo", "_halo"), ([2, 2], [2, 5], "int64"),
                _halo_right((2, 2), (2, 5)), HALO_PLAIN, timeout=5, options={"ranks": 4}),
         frontrun_na="MPI ranks are processes under mpiexec", needs="mpi",
         course=("mpi_cart_halo", "rank_arithmetic")),
    Pair("mpi_cart_send_first", "halo exchange with Send before Recv on every rank (deadlock "
         "for large borders)", "2x2 grid, mpi strict mode (synchronous sends); expect_halo "
         "through run_ranks, which explains the hang", ("deadlock",),
         halo((2, 2), (2, 5), strict=True),
         Stress(hidden_probe("mpi_cart_halo", "_halo"), ([2, 2], [2, 5], "int64"),
                _halo_right((2, 2), (2, 5)), HALO_PLAIN, timeout=5, options={"ranks": 4}),
         frontrun_na="MPI ranks are processes under mpiexec", needs="mpi",
         course=("mpi_cart_halo", "send_first")),
    Pair("mpi_ring_power_of_two", "edge case: a rank count that is not a power of two "
         "(recursive doubling)", "mpi_ring_allreduce's test_non_power_of_two_rank_counts "
         "(3 and 5 ranks)", ("failed", "error"),
         exercise_test("mpi_ring_allreduce", "test_non_power_of_two_rank_counts"),
         Stress(probes.mpi_ring, (10,), _equals([[6 * i for i in range(10)]] * 3),
                "3 ranks, 10 elements: every rank gets the sum", timeout=5,
                options={"ranks": 3}),
         frontrun_na="MPI ranks are processes under mpiexec", needs="mpi",
         course=("mpi_ring_allreduce", "power_of_two")),
    Pair("mpi_ring_one_rank", "edge case: 1 rank (rank 0 starts a lap around the ring with a "
         "blocking send to its right neighbour: itself)", "mpi_ring_allreduce's "
         "test_one_rank_returns_a_copy (1 rank, synchronous sends): the hang proven",
         ("deadlock",), exercise_test("mpi_ring_allreduce", "test_one_rank_returns_a_copy"),
         Stress(probes.mpi_ring, (10,), _equals(list(range(10))),
                "1 rank, 10 elements: the rank gets its own array", timeout=5,
                options={"ranks": 1}),
         frontrun_na="MPI ranks are processes under mpiexec", needs="mpi",
         course=("mpi_ring_allreduce", "self_send_one_rank")),
    Pair("pipe_stop_at_last_value", "edge case: `n = 0` (the reader waits for a last value "
         "that never comes)", "pipe_pipeline's test_zero_items: the EOFError raised in the "
         "student's code, explained", ("error",), exercise_test("pipe_pipeline", "test_zero_items"),
         Stress("pipeline_squares", (7,), _equals([x * x for x in range(7)]),
                "pipeline_squares(7) == squares within 3 s", timeout=3),
         frontrun_na="processes joined by pipes, not threads of one interpreter",
         needs="processes",
         course=("pipe_pipeline", "stop_at_last_square")),
    Pair("pycuda_no_bounds_check", "CUDA kernel without a bounds check (threads past the end)",
         "pycuda_vector_ops's test_vector_add_memcheck (compute-sanitizer memcheck, on a GPU)",
         ("failed",), exercise_test("pycuda_vector_ops", "test_vector_add_memcheck"),
         Stress(probes.gpu_plain, ("gpu_vector_add", 1000),
                _equals([2.0 * i for i in range(1000)]), "gpu_vector_add(a, a) == 2a, 1000 floats",
                timeout=60), frontrun_na=NOT_GPU, needs="gpu",
         course=("pycuda_vector_ops", "no_bounds_check")),
    Pair("pycuda_power_of_two_only", "edge case: a length that is not a power of two (CUDA "
         "reduction)", "pycuda_reduction's test_sum_any_length (lengths 1 to 100003, on a GPU)",
         ("failed",), exercise_test("pycuda_reduction", "test_sum_any_length"),
         Stress(probes.gpu_plain, ("gpu_sum", 1024), _equals(float(sum(range(1024)))),
                "gpu_sum(arange(1024)) == 523776", timeout=60), frontrun_na=NOT_GPU, needs="gpu",
         course=("pycuda_reduction", "power_of_two_only")),
    Pair("pycuda_no_syncthreads", "missing `__syncthreads()` in a shared-memory tree reduction",
         "pycuda_reduction's test_shared_memory_synchronised (static: every shared-memory step "
         "followed by a barrier; runs without a GPU)", ("race",),
         exercise_test("pycuda_reduction", "test_shared_memory_synchronised"),
         Stress(probes.gpu_plain, ("gpu_sum", 1024), _equals(float(sum(range(1024)))),
                "gpu_sum(arange(1024)) == 523776", timeout=60), frontrun_na=NOT_GPU, needs="gpu",
         course=("pycuda_reduction", "no_syncthreads")),
    Pair("asyncio_removed_api", "removed asyncio APIs (`@asyncio.coroutine`, `yield from`)",
         "async_fanout's test_uses_current_api: the removed API named with its modern form",
         ("failed",), exercise_test("async_fanout", "test_uses_current_api"),
         Stress(probes.plain_fetch, (12, 3), _equals([f"<{i}>" for i in range(12)]),
                "fetch_all(12 urls, fetch, 3) == results in order"),
         frontrun_na=NOT_THREADS + "a removed API fails the same way in every schedule",
         needs="asyncio",
         course=("async_fanout", "removed_coroutine_api")),
    Pair("asyncio_cancel_not_awaited", "losers cancelled but never awaited (their `finally` has "
         "not run; 'Task was destroyed but it is pending')", "async_timeouts's "
         "test_losers_cancelled_and_cleaned_up", ("failed",),
         exercise_test("async_timeouts", "test_losers_cancelled_and_cleaned_up"),
         Stress(probes.losers, (3,), lambda v: v["value"] == "fast", "first_success(...) == 'fast'"),
         frontrun_na=NOT_THREADS + "the bug is sequential (the same in every schedule)",
         needs="asyncio",
         course=("async_timeouts", "")),
    Pair("mpi_pi_every_rank_does_all", "no parallel speedup: every rank computes the whole "
         "integral", "mpi_pi's test_each_rank_computes_only_its_share", ("failed",),
         exercise_test("mpi_pi", "test_each_rank_computes_only_its_share"),
         Stress(probes.mpi_call, ("mpi_pi", 100_000),
                lambda v: abs(v[0] - 3.141592653589793) < 1e-8,
                "3 ranks, n = 100000: rank 0 within 1e-8 of pi", timeout=10,
                options={"ranks": 3}),
         frontrun_na="MPI ranks are processes under mpiexec", needs="mpi",
         course=("mpi_pi", "every_rank_does_all")),
    Pair("mpi_stats_fewer_elements_than_ranks", "edge case: fewer elements than ranks (empty "
         "chunks; equal parts drop the remainder)", "mpi_collective_stats's "
         "test_fewer_elements_than_ranks (3 numbers on 5 ranks, 1 on 2)", ("failed", "error"),
         exercise_test("mpi_collective_stats", "test_fewer_elements_than_ranks"),
         Stress(probes.mpi_stats, (12,),
                lambda v: v[1:] == [None, None] and abs(v[0][0] - 5.5) < 1e-9,
                "3 ranks, 12 values: rank 0 gets the mean 5.5, the others None", timeout=10,
                options={"ranks": 3}),
         frontrun_na="MPI ranks are processes under mpiexec", needs="mpi",
         course=("mpi_collective_stats", "equal_chunks")),
    Pair("pycuda_single_block", "a single CUDA block (wrong beyond 1024 elements)",
         "pycuda_vector_ops's test_vector_add_large (1,000,003 floats, on a GPU)", ("failed",),
         exercise_test("pycuda_vector_ops", "test_vector_add_large"),
         Stress(probes.gpu_plain, ("gpu_vector_add", 1000),
                _equals([2.0 * i for i in range(1000)]), "gpu_vector_add(a, a) == 2a, 1000 floats",
                timeout=60), frontrun_na=NOT_GPU, needs="gpu",
         course=("pycuda_vector_ops", "single_block")),
    Pair("pycuda_wrong_2d_indexing", "wrong 2-D indexing in a CUDA matmul (rows written twice "
         "or never)", "pycuda_vector_ops's test_matmul_values (on a GPU)", ("failed",),
         exercise_test("pycuda_vector_ops", "test_matmul_values"),
         Stress(probes.gpu_plain, ("gpu_matmul", 3), _equals(MATMUL_3),
                "gpu_matmul(A, A) == A @ A for A = arange(9) as 3x3", timeout=60),
         frontrun_na=NOT_GPU, needs="gpu",
         course=("pycuda_vector_ops", "wrong_2d_indexing")),
    Pair("gate_notify_before_wait", "lost wake-up: the gate opens (notify_all) before the "
         "workers wait", "throttle_and_gate's test_late_workers_still_pass_the_gate",
         ("deadlock",), exercise_test("throttle_and_gate", "test_late_workers_still_pass_the_gate"),
         Stress(probes.plain_gate, (4,), lambda v: isinstance(v, list) and len(v) == 4,
                "start_together(4, work) gives 4 start times within 3 s", timeout=3),
         frontrun_na="the threads are started inside start_together(); frontrun needs the "
                     "workers as separate callables",
         course=("throttle_and_gate", "notify_before_wait")),
    Pair("spawn_unguarded_module", "module code not `__main__`-safe under spawn (demo code at "
         "module level)", "process_lifecycle's test_module_safe_to_import_under_spawn",
         ("failed",), exercise_test("process_lifecycle", "test_module_safe_to_import_under_spawn"),
         Stress(probes.plain_lifecycle, (["a", "b"],), _equals({"a": 0, "b": 0}),
                "run_named(os.getpid, ['a', 'b']) == {'a': 0, 'b': 0}", timeout=10),
         frontrun_na="the start method of processes is not an interleaving", needs="processes",
         course=("process_lifecycle", "unguarded_demo"), slow=True),  # spawned interpreters
    Pair("mp_one_sentinel", "early exit: one sentinel for several consumers (the others wait "
         "forever)", "mp_queue_fibonacci's test_small_inputs; the hang is a deadlock",
         ("deadlock",), exercise_test("mp_queue_fibonacci", "test_small_inputs"),
         Stress("parallel_fib", ([10, 20, 30], 3), _equals({10: 55, 20: 6765, 30: 832040}),
                "parallel_fib([10, 20, 30], 3) == fibs within 5 s"),
         frontrun_na="multiprocessing consumers are processes", needs="processes",
         course=("mp_queue_fibonacci", "one_sentinel")),
    Pair("mpi_pi_left_endpoint", "error above 1e-8 (the left-endpoint rule)",
         "mpi_pi's test_error_below_1e_minus_8", ("failed",),
         exercise_test("mpi_pi", "test_error_below_1e_minus_8"),
         Stress(probes.mpi_call, ("mpi_pi", 100_000),
                lambda v: abs(v[0] - 3.141592653589793) < 1e-8,
                "3 ranks, n = 100000: rank 0 within 1e-8 of pi", timeout=10,
                options={"ranks": 3}),
         frontrun_na="MPI ranks are processes under mpiexec", needs="mpi",
         course=("mpi_pi", "left_endpoint")),
]

BY_NAME = {p.name: p for p in PAIRS}
