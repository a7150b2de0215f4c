"""Hidden tests for throttle_and_gate.

limited_map: the probe's `func` counts the calls in flight under its own Condition and waits
(briefly, with a timeout) until `max_concurrent` of them are in flight at once, then holds a
while. A missing or ineffective limit shows as a peak above the limit on every run; code that
never reaches the limit (serial, or too few workers) shows as a peak below it, paying the short
wait once.

start_together: the probe makes the workers *late*: every time a worker thread of the student's
code enters a Condition (what Event, Barrier, Semaphore and Condition are all built on) it first
sleeps, longer for each worker that arrives. A gate that is opened before the workers are
waiting (a Condition's notify_all() before wait(), an Event's set() followed by clear()) is then
missed every time, not once in a while, and a gate opened before everybody arrived lets the
first workers start while the last ones are still on their way.
"""

from grader.testing import (
    Deadlock, Failed, Timeout, expect_current_api, expect_equal, expect_kept_busy,
    expect_nothing_left, raise_for, requirement,
)

TIMEOUT = 5  # seconds per request; the reference needs well under 1 s
N_GATE = 5  # workers at the gate
STAGGER = 0.04  # seconds: the k-th worker to arrive is delayed (k + 1) * STAGGER on its first entry
DELAY = 0.15  # seconds every later entry of a worker into a Condition is delayed
FULL_WAIT = 1.5  # seconds a limited_map call waits for max_concurrent calls to be in flight
N_SWITCHED = 6  # workers at the gate under forced thread switches
SWITCH_RUNS = 4  # seeded schedules tried (seed, seed + 1, ...): a lost arrival shows in one
SWITCH_PROBABILITY = 0.25  # chance of a thread switch before each instruction of the student's
LATE_EXIT = 0.3  # seconds a worker is delayed entering a Condition after its call of func


# ---------------------------------------------------------------- probes (run in the sandbox)

def _throttled(mod, n, limit, hold, full_wait):
    import threading
    import time

    cond = threading.Condition()
    state = {"in": 0, "peak": 0, "entered": 0, "short": False}
    main = threading.get_ident()
    in_main = []

    def func(x):
        with cond:
            state["in"] += 1
            state["entered"] += 1
            state["peak"] = max(state["peak"], state["in"])
            cond.notify_all()
            if full_wait and not state["short"]:
                if not cond.wait_for(lambda: state["in"] >= limit or state["entered"] >= n,
                                     timeout=full_wait):
                    state["short"] = True  # never reached the limit: do not wait again
        if threading.get_ident() == main:
            in_main.append(x)
        time.sleep(hold)
        with cond:
            state["in"] -= 1
        return x * x

    got = mod.limited_map(func, list(range(n)), limit)
    return {"value": got, "peak": state["peak"], "calls": state["entered"], "in_main": in_main}


def _held_map(mod, n, limit, seed):
    """limited_map where every call of func is held until the probe lets it finish, one at a
    time in an order drawn from `seed` (seed None: the call that started last goes first, which
    empties one worker's share of the items at once if the items were dealt out in advance).
    At the start and after each release the probe waits
    (at most 1 s) for the calls in flight to reach min(limit, calls left), then 20 ms more,
    and records what it saw; it stops at the first moment that falls short."""
    import random
    import threading
    import time

    rng, cond = random.Random(seed), threading.Condition()
    gates, running, finished, out, started = {}, set(), set(), {}, []

    def func(x):
        gate = threading.Event()
        with cond:
            gates[x] = gate
            running.add(x)
            started.append(x)
            cond.notify_all()
        gate.wait(5)
        with cond:
            running.discard(x)
            finished.add(x)
            cond.notify_all()
        return -x

    def run():
        out["value"] = mod.limited_map(func, list(range(n)), limit)

    caller = threading.Thread(target=run, name="grader: limited_map caller", daemon=True)
    caller.start()
    moments = []
    while True:
        with cond:
            want = min(limit, n - len(finished))
            cond.wait_for(lambda: len(running) >= want, timeout=1.0)
        time.sleep(0.02)
        with cond:
            moments.append({"finished": len(finished), "in_flight": len(running)})
            if not running or len(running) < min(limit, n - len(finished)):
                break
            if seed is None:
                x = next(y for y in reversed(started) if y in running)
            else:
                x = rng.choice(sorted(running))
            gates[x].set()
            cond.wait_for(lambda: x in finished, timeout=1.0)
    with cond:
        for gate in gates.values():
            gate.set()
    deadline = time.monotonic() + 4
    while caller.is_alive() and time.monotonic() < deadline:  # late calls must not stay held
        with cond:
            for gate in gates.values():
                gate.set()
        caller.join(0.05)
    return {"value": out.get("value"), "moments": moments}


def _gate(mod, n, late, stagger, delay):
    """start_together(n, work) with, when `late`, the workers made to reach the gate one after
    the other: the k-th worker to run code of solution.py, or to enter a Condition (Barrier,
    Event, Semaphore and Condition all do, `with` or not) from it, waits (k + 1) * stagger
    first, each later entry `delay`. A worker is delayed where its thread first runs the
    student's code (a profile hook of its own thread), so a gate that is no Condition (a Lock,
    a Condition taken with acquire()) still sees its workers arrive late. "arrived": when each
    worker's first delay ended."""
    import sys
    import threading
    import time

    main = threading.get_ident()
    student_file = mod.__file__
    order, arrived, calls = {}, {}, []
    enter, bootstrap = threading.Condition.__enter__, threading.Thread._bootstrap_inner

    def from_student():
        f = sys._getframe(2)
        while f is not None:
            if f.f_code.co_filename == student_file:
                return True
            f = f.f_back
        return False

    def arrive(first_only=False):
        me = threading.get_ident()
        first = me not in order
        if first:
            order[me] = len(order)
        elif first_only:
            return
        time.sleep(stagger * (order[me] + 1) if first else delay)
        if first:
            arrived[me] = time.perf_counter()

    def late_enter(self):
        if threading.get_ident() != main and from_student():
            arrive()
        return enter(self)

    def first_student_call(frame, event, arg):
        if event == "call" and frame.f_code.co_filename == student_file:
            sys.setprofile(None)
            arrive(first_only=True)

    def late_bootstrap(self):
        sys.setprofile(first_student_call)
        try:
            return bootstrap(self)
        finally:
            sys.setprofile(None)

    def work(i):
        calls.append((i, time.perf_counter(), threading.get_ident()))

    if late:
        threading.Condition.__enter__ = late_enter
        threading.Thread._bootstrap_inner = late_bootstrap
    try:
        starts = mod.start_together(n, work)
    finally:
        threading.Condition.__enter__ = enter
        threading.Thread._bootstrap_inner = bootstrap
    return {"starts": starts, "calls": calls, "arrived": sorted(arrived.values()),
            "main": main}


# ---------------------------------------------------------------- limited_map

def _limited(student, n, limit, hold=0.05, full_wait=FULL_WAIT):
    what = f"limited_map(func, range({n}), max_concurrent={limit})"
    got = student.run(_throttled, n, limit, hold, full_wait, timeout=TIMEOUT, what=what)
    return got, what


def _reversed_finish(mod, n, limit, step):
    """limited_map where call x sleeps (n - x) * step: the last items finish first."""
    import time

    def func(x):
        time.sleep((n - x) * step)
        return x * x

    return mod.limited_map(func, list(range(n)), limit)


def _from_iterator(mod, n, limit):
    """limited_map on a generator: `[func(x) for x in items]` takes any iterable."""
    return mod.limited_map(lambda x: x + 1, (x for x in range(n)), limit)


@requirement("map-values")
def test_limited_map_values(student):
    """Results in input order (also when later items finish first); empty input; a big limit"""
    for n, limit in [(10, 3), (0, 2), (3, 8)]:
        got, what = _limited(student, n, limit, hold=0.001, full_wait=0)
        expect_equal(got["value"], [x * x for x in range(n)], f"{what} with func(x) = x * x")
    what = "limited_map(func, range(6), max_concurrent=6) where later items finish first"
    got = student.run(_reversed_finish, 6, 6, 0.03, timeout=TIMEOUT, what=what)
    expect_equal(got, [x * x for x in range(6)], what,
                 hint="Store each result at its item's index, not in the order the calls end.")
    what = "limited_map(lambda x: x + 1, (x for x in range(5)), max_concurrent=2)"
    got = student.run(_from_iterator, 5, 2, timeout=TIMEOUT, what=what)
    expect_equal(got, [x + 1 for x in range(5)], what,
                 hint="items may be any iterable, a generator too (it has no len() and can be "
                      "read once): make a list of it first, `items = list(items)`.")


@requirement("at-most")
def test_never_more_than_the_limit(student):
    """Never more than max_concurrent calls of func run at the same time"""
    got, what = _limited(student, 12, 3, hold=0.15)
    if got["peak"] > 3:
        raise Failed(f"{what} ran {got['peak']} calls of func at the same time; at most 3 may run "
                     "at once. Create ONE Semaphore(max_concurrent) for the whole call, before the "
                     "threads start, and hold it (`with slots:`) around every call of func; a "
                     "semaphore made per thread or per call limits nothing.", peak=got["peak"])
    expect_equal(got["value"], [x * x for x in range(12)], what)


@requirement("kept-busy", "worker-threads")
def test_limit_is_used(student):
    """max_concurrent calls really run at once, in worker threads"""
    got, what = _limited(student, 8, 3)
    if got["in_main"]:
        raise Failed(f"{what} called func in the thread that called limited_map (for items "
                     f"{got['in_main'][:5]}): every call must run in a worker thread.")
    if got["peak"] < 3:
        raise Failed(f"{what} never had more than {got['peak']} call(s) of func running at once "
                     f"(each call waited up to {FULL_WAIT} s for the others): the limit is 3, and "
                     "up to 3 calls must run in parallel. Start a thread per item (or "
                     "max_concurrent worker threads) before joining any of them.",
                     peak=got["peak"])


@requirement("kept-busy")
def test_limit_kept_busy_while_items_wait(student, seed):
    """While items wait, max_concurrent calls are running at every moment (not batch by batch)"""
    n, limit = 7, 3
    what = f"limited_map(func, range({n}), max_concurrent={limit})"
    for order, named in ((seed, f"seed {seed}"), (None, "the newest call first")):
        out = student.run(_held_map, n, limit, order, timeout=TIMEOUT + 4, what=what)
        expect_kept_busy(out["moments"], n, limit, f"{what} ({named})", hint=(
            "Starting the threads in batches of max_concurrent and joining each batch before "
            "the next waits for the slowest call of every batch, and dealing the items out to "
            "the workers in advance leaves a worker idle once its share is done. Start a thread "
            "per item and let a Semaphore(max_concurrent) hold back the extra ones (or let "
            "each worker take the next item from a shared queue): a call starts as soon as any "
            "other finishes."))
        expect_equal(out["value"], [-x for x in range(n)], what)


def _late_exit_map(mod, n, limit, delay):
    """limited_map where a worker thread that has finished a call of func is delayed `delay`
    s whenever the student's code then enters a Condition (a Semaphore's release, a queue's
    get): code that returns once the results are in, without joining, leaves it running."""
    import sys
    import threading
    import time

    main = threading.get_ident()
    student_file = mod.__file__
    finished = set()
    enter = threading.Condition.__enter__

    def from_student():
        f = sys._getframe(2)
        while f is not None:
            if f.f_code.co_filename == student_file:
                return True
            f = f.f_back
        return False

    def late_enter(self):
        me = threading.get_ident()
        if me != main and me in finished and from_student():
            time.sleep(delay)
        return enter(self)

    def func(x):
        finished.add(threading.get_ident())
        return x * x

    threading.Condition.__enter__ = late_enter
    try:
        return mod.limited_map(func, list(range(n)), limit)
    finally:
        threading.Condition.__enter__ = enter


@requirement("joined")
def test_limited_map_leaves_no_threads(student):
    """Every thread limited_map started has finished when it returns"""
    got, what = _limited(student, 6, 2, hold=0.01, full_wait=0)
    expect_nothing_left(student.last, what, processes=False, shared_memory=False)
    what = (f"limited_map(func, range(6), max_concurrent=2) where a worker is slow to finish "
            f"after its call of func ({LATE_EXIT:g} s)")
    got = student.run(_late_exit_map, 6, 2, LATE_EXIT, timeout=TIMEOUT, what=what)
    expect_nothing_left(student.last, what, processes=False, shared_memory=False,
                        hint="Waiting until every result is in is not waiting for the threads: "
                             "join each thread you started before returning.")
    expect_equal(got, [x * x for x in range(6)], what)


# ---------------------------------------------------------------- start_together

def _together(student, late, n=N_GATE):
    what = f"start_together({n}, work)"
    reply = student.reply(_gate, n, late, STAGGER, DELAY, timeout=TIMEOUT, what=what)
    if reply.status == "timeout":
        _lost_wakeup(student, reply, what, late)
    raise_for(reply)
    got = reply.value
    _expect_calls(got, n, what)
    return got, what


def _lost_wakeup(student, reply, what, late):
    try:
        raise_for(reply)
    except (Deadlock, Timeout) as verdict:
        if not late:
            raise
        source = student.source_file().read_text(errors="replace")
        clear = (" Calling clear() right after set() closes the gate again before the late "
                 "workers look at it: leave the Event set." if ".clear()" in source else "")
        raise type(verdict)(
            f"{verdict.message} The grader made your worker threads reach the gate a little late, "
            "as a busy machine does: the gate was opened (set() or notify_all()) before some "
            "workers were waiting, they missed it and wait forever (a lost wake-up)." + clear
            + " A Barrier(n) lets the last worker to arrive release everyone; an Event works if "
            "it is set only once all workers are there and then stays set; a Condition needs a "
            "flag checked in a while loop around wait().", **verdict.details) from None


def _expect_calls(got, n, what):
    indices = sorted(i for i, _, _ in got["calls"])
    if indices != list(range(n)):
        raise Failed(f"{what} called work with the indices {indices}; expected each of "
                     f"{list(range(n))} exactly once.")
    threads = {t for _, _, t in got["calls"]}
    if got["main"] in threads or len(threads) != n:
        raise Failed(f"{what} ran the n calls of work in {len(threads)} thread(s)"
                     + (", one of them the caller" if got["main"] in threads else "")
                     + f": each of the {n} workers must be its own thread.")
    starts = got["starts"]
    if not (isinstance(starts, list) and len(starts) == n
            and all(isinstance(s, float) for s in starts)):
        raise Failed(f"{what} returned {starts!r:.200}; expected a list of {n} floats (the value "
                     "of time.perf_counter() when each worker started).")
    called = {i: t for i, t, _ in got["calls"]}
    late = [i for i in range(n) if starts[i] > called[i]]
    if late:
        raise Failed(f"{what} returned start times later than the moment work({late[0]}) was "
                     "called: record time.perf_counter() in each worker right before calling "
                     "work(i), and put it at index i.")


@requirement("start-times")
def test_start_together_values(student):
    """n workers each call work(i) once in their own thread; n start times come back"""
    for n in (1, 4):
        _together(student, late=False, n=n)


@requirement("no-lost-wakeup")
def test_late_workers_still_pass_the_gate(student):
    """Workers that reach the gate late are not left waiting forever (no lost wake-up)"""
    _together(student, late=True)


@requirement("no-lost-wakeup")
def test_gate_under_forced_switches(student, seed):
    """Every worker gets through the gate when threads are switched in the middle of statements"""
    what = f"start_together({N_SWITCHED}, work)"
    for run in range(SWITCH_RUNS):
        checks = {"schedule": {"seed": seed + run, "probability": SWITCH_PROBABILITY}}
        reply = student.reply(_gate, N_SWITCHED, False, STAGGER, DELAY, checks=checks,
                              timeout=TIMEOUT, what=f"{what} (forced switches, seed {seed + run})")
        if reply.status != "ok":
            try:
                raise_for(reply)
            except (Deadlock, Timeout) as verdict:
                raise type(verdict)(
                    f"{verdict.message} With thread switches forced in the middle of statements "
                    f"(seed {seed + run}, `grader replay` shows it again), some workers never got "
                    "through the gate: an arrival counted without a lock (`count += 1` read by one "
                    "thread, written after another's) is lost, and the count never reaches n. "
                    "Count arrivals under a lock, or use a Barrier(n).", **verdict.details
                ) from None
        _expect_calls(reply.value, N_SWITCHED, what)


@requirement("gate")
def test_nobody_starts_before_everyone_arrived(student):
    """No worker starts before the last one has reached the gate"""
    got, what = _together(student, late=True)
    last = max(got["arrived"], default=None)
    if last is None:
        return  # no worker was delayed (none ran code of solution.py): nothing to judge
    first_call = min(t for _, t, _ in got["calls"])
    first_start = min(got["starts"])
    if first_call < last or first_start < last:
        early = sorted(i for i, t, _ in got["calls"] if t < last)
        raise Failed(
            f"In {what}, with workers reaching the gate at different times, workers {early} "
            f"started {1000 * (last - min(first_call, first_start)):.0f} ms before the last worker "
            "had even reached the gate: the gate opened before everybody was there. Open it only "
            "when all n workers are waiting: a Barrier(n) does this by itself; with an Event, "
            "count the workers that arrived and set() it when the count reaches n.",
            first_call=first_call, last_arrival=last)


def _slow_work_gate(mod, n):
    """start_together where work(i) takes 0.1 s: the threads still running when it returned."""
    import threading
    import time

    before = set(threading.enumerate())
    starts = mod.start_together(n, lambda i: time.sleep(0.1))
    alive = [t.name for t in threading.enumerate() if t not in before and t.is_alive()]
    return {"starts": starts, "alive": alive}


@requirement("joined")
def test_start_together_leaves_no_threads(student):
    """Every thread start_together started has finished when it returns"""
    what = "start_together(3, work) where work(i) takes 0.1 s"
    out = student.run(_slow_work_gate, 3, timeout=TIMEOUT, what=what)
    if out["alive"]:
        raise Failed(f"When {what} returned, {len(out['alive'])} of its worker threads were still "
                     f"running ({', '.join(out['alive'][:3])}): it returned before the work was "
                     "done. Join every worker thread before returning the start times.",
                     alive=out["alive"])
    expect_nothing_left(student.last, what, processes=False, shared_memory=False)


@requirement("current-api")
def test_uses_current_api(student):
    """Works, and uses today's names (is_set, notify_all, current_thread, ...)"""
    _together(student, late=False, n=2)
    expect_current_api(student)
