"""Hidden tests for bounded_buffer.

Every scenario runs in one probe, `_buffer`, which steps the threads on purpose: it waits until
a thread is really blocked inside `wait()` (it reads the thread's stack) before the next step,
so "two consumers are waiting when one item arrives" or "the producer is blocked on a full
buffer" happen every run, not by luck of timing. The lockset check and forced thread switches
judge a many-producer, many-consumer transfer.
"""

from collections import Counter

from grader.testing import (
    Deadlock, Failed, Race, expect_current_api, expect_equal, expect_no_races, requirement,
)

TIMEOUT = 4  # seconds per request; the reference needs well under one
BARGED_RUNS = 3  # tries of the woken-without-room scenario (a producer that gets the room: again)

WHILE_HINT = ("Wake-ups are only a hint that something changed: `notify_all()` wakes every "
              "waiting consumer, yet only one of them gets the item (and with `notify()` another "
              "consumer may take it first). Re-check the condition in a loop, "
              "`while not self._items and not self._closed: cond.wait()`, never with `if`.")
PUT_WHILE_HINT = ("A woken producer is not promised room: another thread may fill the buffer "
                  "between the notify and the moment the producer has the lock back. Re-check "
                  "in a loop, `while len(self._items) >= self._capacity: cond.wait(...)`, "
                  "never with `if`.")


# ---------------------------------------------------------------- the probe (runs in the sandbox)

def _buffer(mod, scenario, *args):
    import contextlib
    import sys
    import threading
    import time

    JOIN = 1.5  # seconds a thread that should be able to finish is given
    SETTLE = 0.3  # seconds a woken thread is given to act before it counts as waiting again

    def blocked(t, limit=2.0):
        """True once thread t is waiting inside threading (Condition.wait...); False if it
        finished (or did not block within `limit` seconds)."""
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline and t.is_alive():
            f = sys._current_frames().get(t.ident)
            while f is not None:
                if f.f_code.co_name == "wait" and f.f_code.co_filename == threading.__file__:
                    return True
                f = f.f_back
            time.sleep(0.002)
        return False

    @contextlib.contextmanager
    def no_switch():
        """No switch to another thread inside the block, unless one in it blocks."""
        interval = sys.getswitchinterval()
        sys.setswitchinterval(1.0)
        try:
            yield
        finally:
            sys.setswitchinterval(interval)

    def outcome(fn, *a, **kw):
        """("ok", value) or ("raised", exception type name)."""
        try:
            return ["ok", fn(*a, **kw)]
        except Exception as exc:  # noqa: BLE001 - reported to the judge
            return ["raised", type(exc).__name__]

    def start(fn, *a):
        box = []
        t = threading.Thread(target=lambda: box.append(outcome(fn, *a)), daemon=True)
        t.start()
        return t, box

    def result(box):
        return box[0] if box else ["stuck"]

    def join_all(threads, limit):
        """Join the threads, all within `limit` seconds in total."""
        deadline = time.monotonic() + limit
        for t in threads:
            t.join(max(0.0, deadline - time.monotonic()))

    def fifo():
        b = mod.BoundedBuffer(3)
        for x in (1, "two", (3,)):
            b.put(x)
        out = [b.get() for _ in range(3)]
        one = mod.BoundedBuffer(1)
        for x in range(4):
            one.put(x)
            out.append(one.get())
        return out

    def timeouts():
        b = mod.BoundedBuffer(2)
        out = []
        t0 = time.monotonic()
        out.append(outcome(b.get, timeout=0.1) + [round(time.monotonic() - t0, 2)])
        b.put("a")
        b.put("b")
        t0 = time.monotonic()
        out.append(outcome(b.put, "c", timeout=0.1) + [round(time.monotonic() - t0, 2)])
        out.append(outcome(b.get, timeout=0.1))
        out.append(outcome(b.put, "d", timeout=0.1))
        return out

    def zero_timeouts():
        """put(x, 0) on a full buffer and get(0) on an empty one: each in a thread of its own,
        so one that waits forever is reported, not a hang."""
        full, empty = mod.BoundedBuffer(1), mod.BoundedBuffer(1)
        full.put("a")
        waiters = [start(full.put, "b", 0), start(empty.get, 0)]
        join_all([t for t, _ in waiters], JOIN)
        return [result(box) for _, box in waiters]

    def barged_put(timeout, period, span):
        """A producer waits in put(timeout=...) on a full BoundedBuffer(1); every `period` s the
        probe takes the item and at once puts one back, so the producer is woken but finds the
        buffer full again (the probe keeps the GIL from its get() to its put(): the producer
        cannot take the room in between). It must still give up `timeout` s after it started,
        not `timeout` s after the last wake-up. Returns its outcome, when it ended, the wake-ups
        before, and how many items the buffer held then (a put that took no room overfills)."""
        b = mod.BoundedBuffer(1)
        b.put(0)
        box, ended = [], []
        t0 = time.monotonic()

        def produce():
            box.append(outcome(b.put, "w", timeout))
            ended.append(round(time.monotonic() - t0, 2))

        waiter = threading.Thread(target=produce, daemon=True)
        waiter.start()
        blocked(waiter)
        wakes, stop = 0, t0 + span
        while waiter.is_alive() and time.monotonic() < stop:
            time.sleep(period)
            with no_switch():  # from the get to the put
                x = b.get(timeout=JOIN)
                if x == "w":  # the producer won the race for the room: nothing to judge
                    break
                if outcome(b.put, x, timeout=JOIN)[0] != "ok":
                    break
            wakes += 1
        waiter.join(JOIN + timeout)
        held = 0
        while held < 3 and outcome(b.get, timeout=0.05)[0] == "ok":
            held += 1
        return {"outcome": result(box), "ended": ended[0] if ended else None, "wakes": wakes,
                "held": held}

    def close_wakes_producer():
        b = mod.BoundedBuffer(1)
        b.put("a")
        producer, box = start(b.put, "b")
        blocked(producer)
        b.close()
        producer.join(JOIN)
        return [result(box), outcome(b.get, timeout=0.5), outcome(b.get, timeout=0.5)]

    def put_blocks(capacity, n):
        b = mod.BoundedBuffer(capacity)
        done = []

        def produce():
            for i in range(n):
                b.put(i)
                done.append(i)

        producer, box = start(produce)
        counts = []
        blocked(producer)
        counts.append(len(done))
        got = [b.get()]
        deadline = time.monotonic() + JOIN  # until the woken producer has put one more item
        while len(done) == counts[0] and producer.is_alive() and time.monotonic() < deadline:
            time.sleep(0.002)
        blocked(producer)
        counts.append(len(done))
        while len(got) < n:
            taken = outcome(b.get, timeout=0.5)
            if taken[0] != "ok":
                break
            got.append(taken[1])
        producer.join(JOIN)
        return {"counts": counts, "got": got}

    def close():
        b = mod.BoundedBuffer(2)
        b.put("a")
        b.close()
        return [outcome(b.put, "b", timeout=0.5), outcome(b.get, timeout=0.5),
                outcome(b.get, timeout=0.5), outcome(b.get)]

    def close_wakes_all(n):
        b = mod.BoundedBuffer(2)
        consumers = [start(b.get) for _ in range(n)]
        for t, _ in consumers:
            blocked(t)
        b.close()
        join_all([t for t, _ in consumers], JOIN)
        return [result(box) for _, box in consumers]

    def two_consumers():
        b = mod.BoundedBuffer(2)
        consumers = [start(b.get) for _ in range(2)]
        for t, _ in consumers:
            blocked(t)
        b.put("x")
        deadline = time.monotonic() + JOIN  # until one consumer has the item...
        while time.monotonic() < deadline and all(t.is_alive() for t, _ in consumers):
            time.sleep(0.002)
        # ...and the other, if woken too, has had time to act: a woken thread still shows
        # wait() on its stack until it has the lock back, so give it SETTLE seconds to return.
        deadline = time.monotonic() + SETTLE
        while time.monotonic() < deadline and any(t.is_alive() for t, _ in consumers):
            time.sleep(0.002)
        for t, _ in consumers:
            blocked(t)
        early = [result(box) for _, box in consumers]
        b.put("y")
        join_all([t for t, _ in consumers], JOIN)
        return {"early": early, "outcomes": [result(box) for _, box in consumers]}

    def stolen():
        """One consumer waits in get(); the probe puts 'x' and takes it back at once, keeping
        the GIL from its put() to its get(), so the woken consumer finds the buffer empty again
        every run; then 'y' arrives. What the consumer's get() gave before 'y' and after."""
        b = mod.BoundedBuffer(2)
        consumer, box = start(b.get)
        blocked(consumer)
        with no_switch():  # from the put to the get
            b.put("x")
            taken = outcome(b.get, timeout=JOIN)
        deadline = time.monotonic() + SETTLE  # the woken consumer acts, or waits again
        while time.monotonic() < deadline and consumer.is_alive():
            time.sleep(0.002)
        blocked(consumer)
        early = result(box)
        b.put("y")
        consumer.join(JOIN)
        return {"taken": taken, "early": early, "outcome": result(box)}

    def transfer(producers, consumers, per_producer, capacity):
        b = mod.BoundedBuffer(capacity)

        def produce(p):
            for i in range(per_producer):
                b.put((p, i))

        received = [[] for _ in range(consumers)]
        errors = []

        def consume(c):
            while True:
                try:
                    received[c].append(b.get())
                except mod.BufferClosed:
                    return
                except Exception as exc:  # noqa: BLE001 - reported to the judge
                    errors.append(f"{type(exc).__name__}: {exc}")
                    return

        ps = [threading.Thread(target=produce, args=(p,), daemon=True) for p in range(producers)]
        cs = [threading.Thread(target=consume, args=(c,), daemon=True) for c in range(consumers)]
        for t in ps + cs:
            t.start()
        join_all(ps, 3 * JOIN)
        b.close()
        join_all(cs, JOIN)
        return {"received": received, "errors": errors,
                "stuck": sum(t.is_alive() for t in ps + cs)}

    return locals()[scenario](*args)


# ---------------------------------------------------------------- judge-side helpers

def _run(student, scenario, *args, what, checks=None, timeout=TIMEOUT):
    return student.run(_buffer, scenario, *args, what=what, checks=checks, timeout=timeout)


def _transfer(student, what, checks, producers=3, consumers=3, per_producer=60, capacity=3):
    """Run the transfer scenario and judge what arrived (see `_judge_transfer`)."""
    out = _run(student, "transfer", producers, consumers, per_producer, capacity, what=what,
               checks=checks, timeout=TIMEOUT + 2)
    _judge_transfer(out, what, checks, producers, per_producer)


def _judge_transfer(out, what, checks, producers, per_producer):
    """Every item arrived exactly once, each producer's items in the order they were put; no
    consumer crashed or was left waiting."""
    if out["errors"]:
        raise Failed(f"In {what}, a consumer's get() raised {out['errors'][0]}: a consumer that "
                     f"was woken found no item to take. {WHILE_HINT}", errors=out["errors"])
    if out["stuck"]:
        raise Deadlock(f"In {what}, {out['stuck']} thread(s) were still waiting when all "
                       "items should have been handed over and close() had been called: a "
                       "waiting thread was never woken. close() must wake every waiting consumer "
                       "(`notify_all()`), and every put/get must notify the threads that wait "
                       "for what it changed.", stuck=out["stuck"])
    sent = Counter((p, i) for p in range(producers) for i in range(per_producer))
    got = Counter(tuple(x) if isinstance(x, list) else x for r in out["received"] for x in r)
    lost = sorted(sent - got, key=repr)
    extra = sorted(got - sent, key=repr)  # duplicates, or things that were never put (None...)
    if lost or extra:
        verdict = Race if checks and "preempt" in checks else Failed
        switches = (f" (with forced thread switches, seed {checks['preempt']['seed']})"
                    if checks and "preempt" in checks else "")
        wrong = [f"{len(found)} item(s) {how} (for example {found[:3]})"
                 for found, how in ((lost, "were lost"),
                                    (extra, "arrived more than once (or were never put)"))
                 if found]
        raise verdict(f"In {what}{switches}, {' and '.join(wrong)}. Every put must add exactly "
                      "one item and every get remove exactly one, inside the lock; a full "
                      "buffer must make put wait, never drop or overwrite an item.",
                      lost=lost[:20], extra=extra[:20])
    for items in out["received"]:  # every item is a (producer, index) pair here
        for p in range(producers):
            seq = [i for (q, i) in items if q == p]
            if seq != sorted(seq):
                raise Failed(f"In {what}, one consumer received producer {p}'s items in the "
                             f"order {seq[:8]}: the buffer must hand items out first in, first "
                             "out (append at one end, take from the other).")


# ---------------------------------------------------------------- tests

@requirement("fifo")
def test_first_in_first_out(student):
    """Items come out in the order they were put (one thread)"""
    expect_equal(_run(student, "fifo", what="put/get on BoundedBuffer(3) and BoundedBuffer(1)"),
                 [1, "two", (3,), 0, 1, 2, 3],
                 "put(1), put('two'), put((3,)), three get()s, then put/get 0..3 on capacity 1")


@requirement("put-waits", "get-waits", "capacity")
def test_timeouts(student):
    """get on an empty buffer and put on a full one raise TimeoutError after `timeout`"""
    out = _run(student, "timeouts", what="BoundedBuffer(2) with timeouts")
    (g_kind, g_val, g_took), (p_kind, p_val, p_took), after, put_again = out
    if [g_kind, g_val] != ["raised", "TimeoutError"] or g_took < 0.08:
        raise Failed(f"get(timeout=0.1) on an empty buffer gave {g_kind} {g_val!r} after "
                     f"{g_took} s: it must wait about 0.1 s, then raise TimeoutError.")
    if [p_kind, p_val] != ["raised", "TimeoutError"] or p_took < 0.08:
        raise Failed(f"put('c', timeout=0.1) on a BoundedBuffer(2) that already held 2 items gave "
                     f"{p_kind} {p_val!r} after {p_took} s: it must wait for room, then raise "
                     "TimeoutError. The buffer must never hold more than `capacity` items.")
    expect_equal(after, ["ok", "a"], "get(timeout=0.1) after the timed-out put")
    expect_equal(put_again, ["ok", None], "put('d', timeout=0.1) once there is room again")
    put0, get0 = _run(student, "zero_timeouts", what="timeouts of 0 s")
    for got, what in ((put0, "put('b', timeout=0) on a full BoundedBuffer(1)"),
                      (get0, "get(timeout=0) on an empty BoundedBuffer(1)")):
        if got != ["raised", "TimeoutError"]:
            raise Failed(f"{what} gave {got[0]}{' ' + repr(got[1]) if len(got) > 1 else ''}: a "
                         "timeout of 0 s is a timeout, so it must raise TimeoutError at once "
                         "(`if timeout:` treats 0 like None and waits forever; test "
                         "`timeout is not None`).", got=got)


@requirement("put-waits", "capacity")
def test_timeout_counts_from_the_start(student):
    """A put woken again and again without room still gives up `timeout` s after it started"""
    timeout, period, span = 0.5, 0.1, 3.0
    what = (f"put('w', timeout={timeout}) on a full BoundedBuffer(1) while another thread takes "
            f"the item and puts one back every {period} s")
    for _ in range(BARGED_RUNS):  # again when the producer got the room: it proved nothing
        out = _run(student, "barged_put", timeout, period, span, what=what, timeout=TIMEOUT + 2)
        _judge_barged(out, timeout, what)
        if out["outcome"] != ["ok", None]:
            return


def _judge_barged(out, timeout, what):
    ended, outcome = out["ended"], out["outcome"]
    # it may get the room on a wake-up (a legal outcome) or raise TimeoutError, but either way
    # within about `timeout` s: still waiting long after that is the timeout started again
    if ended is None or ended > timeout + 1.5:
        how = ("was still waiting" if ended is None else
               f"ended ({outcome[0]} {outcome[1:]}) only after {ended} s,")
        raise Failed(f"{what} {how} woken "
                     f"{out['wakes']} times: the timeout started again at every wake-up. "
                     "Compute the deadline once (`deadline = time.monotonic() + timeout`) and wait "
                     "for the time left (`cond.wait(deadline - time.monotonic())`), or use "
                     "`cond.wait_for(predicate, timeout)`.", ended=ended, wakes=out["wakes"])
    if outcome not in (["ok", None], ["raised", "TimeoutError"]):
        raise Failed(f"{what} gave {outcome}: it must put the item or raise TimeoutError.",
                     outcome=outcome)
    if out.get("held", 0) > 1:
        raise Failed(f"In {what}, the woken producer put its item although the other thread had "
                     f"filled the buffer again: BoundedBuffer(1) then held {out['held']} items. "
                     f"{PUT_WHILE_HINT}", held=out["held"])

@requirement("put-waits", "capacity")
def test_put_blocks_when_full(student):
    """A producer waits once the buffer holds `capacity` items, and goes on when one is taken"""
    what = "a producer putting 0..5 into BoundedBuffer(3)"
    out = _run(student, "put_blocks", 3, 6, what=what)
    if out["counts"] != [3, 4]:
        first, second = (out["counts"] + [None, None])[:2]
        raise Failed(f"In {what}, the producer had finished {first} put()s when it first "
                     f"stopped (expected 3: the capacity), and {second} after one get() "
                     "(expected 4). put must wait while the buffer holds `capacity` items "
                     "(`while len(items) >= capacity: wait()`), not drop an item or let the "
                     "buffer grow.", counts=out["counts"])
    expect_equal(out["got"], list(range(6)), f"the items taken from {what}")


@requirement("closed-put", "closed-get")
def test_close(student):
    """After close(): put raises BufferClosed, get drains the items left, then raises BufferClosed"""
    got = _run(student, "close", what="BoundedBuffer(2) after put('a'), close()")
    expect_equal(got, [["raised", "BufferClosed"], ["ok", "a"], ["raised", "BufferClosed"],
                       ["raised", "BufferClosed"]],
                 "[put('b'), get(), get(), get()] after put('a'), close() (each as [\"ok\", value] "
                 "or [\"raised\", exception])")


@requirement("closed-put")
def test_close_wakes_waiting_producer(student):
    """A producer waiting in put() on a full buffer gets BufferClosed when the buffer closes"""
    what = "close() while a producer waits in put('b') on a full BoundedBuffer(1) holding 'a'"
    got = _run(student, "close_wakes_producer", what=what)
    if got[0] == ["stuck"]:
        raise Deadlock(f"In {what}, the producer was never woken and waits forever: put on a "
                       "closed buffer raises BufferClosed, also when it was already waiting. "
                       "close() must wake the waiting producers too (`notify_all()` on the "
                       "condition they wait on).", outcomes=got)
    expect_equal(got, [["raised", "BufferClosed"], ["ok", "a"], ["raised", "BufferClosed"]],
                 f"[the waiting put('b'), get(), get()] in {what}")


@requirement("close-wakes-all")
def test_close_wakes_every_waiting_consumer(student):
    """close() wakes every consumer waiting on the empty buffer, and each gets BufferClosed"""
    n = 3
    what = f"close() while {n} consumers wait in get() on an empty buffer"
    outcomes = _run(student, "close_wakes_all", n, what=what)
    stuck = sum(o == ["stuck"] for o in outcomes)
    if stuck:
        raise Deadlock(f"In {what}, {stuck} of the {n} consumers were never woken and wait "
                       "forever. `notify()` wakes only one waiting thread; when the buffer "
                       "closes, every waiting consumer must learn it: use `notify_all()` in "
                       "close().", outcomes=outcomes)
    expect_equal(outcomes, [["raised", "BufferClosed"]] * n,
                 f"what each consumer's get() gave in {what}")


@requirement("get-waits")
def test_several_consumers_waiting(student):
    """Two consumers wait; one item arrives: one gets it, the other keeps waiting for the next"""
    what = "two consumers waiting in get() when put('x') and then put('y') arrive"
    out = _run(student, "two_consumers", what=what)
    bad = [o for o in out["early"] if o not in (["stuck"], ["ok", "x"])]
    if bad:
        raise Failed(f"In {what}, one consumer took 'x' and the other one, woken too, did not "
                     f"wait for the next item: its get() gave {bad[0]} before 'y' was put. "
                     f"{WHILE_HINT}", early=out["early"])
    expect_equal(sorted(map(repr, out["outcomes"])), sorted([repr(["ok", "x"]), repr(["ok", "y"])]),
                 f"what the two consumers' get() gave in {what}")
    what = ("a consumer waiting in get() when put('x') arrives and another thread takes 'x' "
            "first, then put('y')")
    out = _run(student, "stolen", what=what)
    if out["early"] != ["stuck"]:
        raise Failed(f"In {what}, the woken consumer found the buffer empty again and did not "
                     f"wait for the next item: its get() gave {out['early']} before 'y' was put. "
                     f"{WHILE_HINT}", early=out["early"], taken=out["taken"])
    expect_equal(out["outcome"], ["ok", "y"], f"what the consumer's get() gave in {what}")


@requirement("thread-safe")
def test_no_races_under_lockset(student):
    """Every write of the buffer's state holds the buffer's lock (lockset check)"""
    what = "3 producers and 3 consumers sharing a BoundedBuffer(3)"
    out = _run(student, "transfer", 3, 3, 40, 3, what=what, checks={"lockset": {}},
               timeout=TIMEOUT + 2)
    expect_no_races(student.last, what,
                    hint="Change the buffer's items, counters and indices only inside "
                         "`with self._lock:` (or the Condition built on it).")
    _judge_transfer(out, what, None, 3, 40)


@requirement("thread-safe")
def test_nothing_lost_or_duplicated(student):
    """Many producers and consumers: every item arrives exactly once, in order per producer"""
    _transfer(student, "4 producers and 3 consumers sharing a BoundedBuffer(2)", None,
              producers=4, per_producer=80, capacity=2)


@requirement("thread-safe")
def test_nothing_lost_under_forced_switches(student, seed):
    """No item is lost or duplicated when threads are switched in the middle of statements"""
    _transfer(student, "3 producers and 3 consumers sharing a BoundedBuffer(3)",
              {"preempt": {"seed": seed}})


@requirement("current-api")
def test_uses_current_api(student):
    """Works, and uses today's threading names (notify_all, not notifyAll)"""
    _run(student, "fifo", what="put/get on BoundedBuffer(3)")
    expect_current_api(student)
