"""Hidden tests for async_fanout.

Each bug class has a check that does not depend on timing luck: fetches that wait (a short,
bounded wait) until `limit` of them are in flight at once (sequential awaits never get there),
a count of fetches in flight (unbounded gathers go past the limit), fetches that finish in
reverse order (results must follow the input order), the asyncio check's record of steps that
held the event loop (time.sleep in a coroutine), the thread a blocking call ran in, and a static
scan for removed asyncio APIs (@asyncio.coroutine, yield from, asyncio.async).
"""

from grader.testing import (
    Failed, expect_current_api, expect_equal, expect_kept_busy, expect_no_asyncio_deadlock,
    expect_no_blocking, requirement,
)

TIMEOUT = 6
GATHER_WAIT = 0.5  # seconds a fetch waits for `limit` fetches to be in flight; paid once at most
STEP = 0.03  # seconds between the finishing times of the staggered fetches
ASYNCIO = {"asyncio": {}}

SEQUENTIAL_HINT = ("`for url in urls: results.append(await fetch(url))` waits for each fetch "
                   "before starting the next, so nothing overlaps. Create all the coroutines and "
                   "run them together with asyncio.gather (or tasks in an asyncio.TaskGroup), "
                   "and let an asyncio.Semaphore(limit) hold back the ones over the limit.")
LIMIT_HINT = ("asyncio.gather on every fetch at once starts all of them together. Wrap each "
              "fetch in `async with semaphore:` where semaphore = asyncio.Semaphore(limit).")


# ---------------------------------------------------------------- probes (run in the sandbox)

def _values(mod):
    import asyncio

    async def fetch(url):
        await asyncio.sleep(0)
        return f"<{url}>"

    async def main():
        return [await mod.fetch_all(["a", "b", "c"], fetch, 1),
                await mod.fetch_all(["a", "b", "c"], fetch, 10),
                await mod.fetch_all([], fetch, 2),
                await mod.fetch_all([f"u{i}" for i in range(30)], fetch, 4),
                await mod.fetch_all(["x", "x"], fetch, 2)]

    return asyncio.run(main())


def _overlap(mod, n, limit, wait):
    """Each fetch waits (once, at most `wait` s in all) until min(limit, n) fetches are in flight."""
    import asyncio

    async def main():
        target = min(limit, n)
        state = {"active": 0, "peak": 0, "gave_up": False}
        full = asyncio.Event()

        async def fetch(url):
            state["active"] += 1
            state["peak"] = max(state["peak"], state["active"])
            if state["active"] >= target:
                full.set()
            try:
                if not state["gave_up"]:
                    try:
                        await asyncio.wait_for(full.wait(), wait)
                    except asyncio.TimeoutError:
                        state["gave_up"] = True
                await asyncio.sleep(0.005)
                return -url
            finally:
                state["active"] -= 1

        got = await mod.fetch_all(list(range(n)), fetch, limit)
        return {"got": got, "peak": state["peak"]}

    return asyncio.run(main())


def _held(mod, n, limit, seed):
    """Every fetch is held until the probe lets it finish, one at a time, in an order drawn from
    `seed` (seed None: the fetch that started last goes first, which empties one worker's share
    at once if the urls were dealt out to `limit` workers in advance). At each moment (at the start, then after each release, once the student's code has
    had the loop for a while) the probe counts the fetches in flight and those finished."""
    import asyncio
    import random

    async def main():
        rng = random.Random(seed)
        gates = [asyncio.Event() for _ in range(n)]
        running, finished, started = set(), set(), []

        async def fetch(i):
            running.add(i)
            started.append(i)
            try:
                await gates[i].wait()
                return -i
            finally:
                running.discard(i)
                finished.add(i)

        async def settle():  # many loop turns and a little time: the student's code reacts
            for _ in range(30):
                await asyncio.sleep(0)
            await asyncio.sleep(0.02)

        task = asyncio.create_task(mod.fetch_all(list(range(n)), fetch, limit))
        moments = []
        while True:
            await settle()
            moments.append({"finished": len(finished), "in_flight": len(running)})
            if task.done() or not running or len(running) < min(limit, n - len(finished)):
                break  # done, stalled, or already seen idle: the judge needs no more
            if seed is None:
                gates[next(i for i in reversed(started) if i in running)].set()
            else:
                gates[rng.choice(sorted(running))].set()
        for gate in gates:  # nothing may stay held if fetch_all stalled
            gate.set()
        return {"got": await task, "moments": moments}

    return asyncio.run(main())


def _staggered(mod, n, limit, step, order=None):
    """Fetch i sleeps (n - 1 - i) * step, the last url finishing first; or, given `order` (a
    permutation of range(n)), fetch i sleeps order[i] * step."""
    import asyncio

    async def fetch(i):
        await asyncio.sleep((order[i] if order else n - 1 - i) * step)
        return f"r{i}"

    return asyncio.run(mod.fetch_all(list(range(n)), fetch, limit))


def _blocking(mod):
    import asyncio
    import threading
    import time

    async def main():
        loop_thread = threading.get_ident()
        seen = {}

        def slow_add(a, b):
            seen["thread"] = threading.get_ident()
            time.sleep(0.3)
            return a + b

        ticks = 0

        async def ticker():
            nonlocal ticks
            while True:
                await asyncio.sleep(0.02)
                ticks += 1

        tick_task = asyncio.create_task(ticker())
        await asyncio.sleep(0)
        value = await mod.run_blocking(slow_add, 2, 3)
        tick_task.cancel()
        await asyncio.gather(tick_task, return_exceptions=True)
        return {"value": value, "off_loop": seen.get("thread") != loop_thread, "ticks": ticks}

    return asyncio.run(main())


# ---------------------------------------------------------------- judge-side helpers

def _run(student, probe, *args, what):
    """Run a probe under the asyncio check; settle a reply that is not a value with the asyncio
    verdicts (a deadlock names the waiting tasks, an old API's error names its modern form)."""
    reply = student.reply(probe, *args, checks=ASYNCIO, timeout=TIMEOUT, what=what)
    expect_no_asyncio_deadlock(reply, what)
    return reply


# ---------------------------------------------------------------- tests

@requirement("values", "in-order")
def test_values(student):
    """Results for several url lists and limits, in order"""
    got = _run(student, _values, what="fetch_all(...)").value
    cases = [("fetch_all(['a', 'b', 'c'], fetch, 1)", ["<a>", "<b>", "<c>"]),
             ("fetch_all(['a', 'b', 'c'], fetch, 10)", ["<a>", "<b>", "<c>"]),
             ("fetch_all([], fetch, 2)", []),
             ("fetch_all(['u0', ..., 'u29'], fetch, 4)", [f"<u{i}>" for i in range(30)]),
             ("fetch_all(['x', 'x'], fetch, 2) (the same url twice)", ["<x>", "<x>"])]
    for value, (what, expected) in zip(got, cases):
        expect_equal(value, expected, what)


@requirement("limit-kept-busy")
def test_fetches_overlap(student):
    """limit fetches are in flight at the same time"""
    n, limit = 8, 3
    what = f"fetch_all({n} urls, fetch, limit={limit})"
    out = _run(student, _overlap, n, limit, GATHER_WAIT, what=what).value
    if out["peak"] < limit:
        raise Failed(f"In {what}, each fetch waits until {limit} fetches are running at the same "
                     f"time, but at most {out['peak']} ever were: the fetches ran one after "
                     f"another, so asyncio gained you nothing. {SEQUENTIAL_HINT}", peak=out["peak"])
    expect_equal(out["got"], [-i for i in range(n)], what)


@requirement("limit-kept-busy")
def test_next_fetch_starts_when_one_finishes(student, seed):
    """While urls wait, limit fetches are in flight at every moment (not batch after batch)"""
    n, limit = 7, 3
    what = f"fetch_all({n} urls, fetch, limit={limit})"
    for order, named in ((seed, f"seed {seed}"), (None, "the newest fetch first")):
        out = _run(student, _held, n, limit, order, what=what).value
        first = out["moments"][0] if out["moments"] else {"in_flight": 0}
        expect_kept_busy(out["moments"], n, limit, f"{what} ({named})", hint=(
            SEQUENTIAL_HINT if first["in_flight"] < min(limit, n) else
            "Fetching in batches of `limit` (asyncio.gather on each slice) waits for the slowest "
            "fetch of a batch before starting the next one, and dealing the urls out to `limit` "
            "workers in advance leaves a worker idle once its share is done.") + " With an "
            "asyncio.Semaphore(limit) around each fetch (or workers taking the next url from a "
            "shared queue), the next url starts as soon as any fetch finishes.")
        expect_equal(out["got"], [-i for i in range(n)], what)


@requirement("at-most-limit")
def test_at_most_limit_in_flight(student):
    """Never more than limit fetches in flight"""
    for n, limit in ((12, 3), (5, 1)):
        what = f"fetch_all({n} urls, fetch, limit={limit})"
        out = _run(student, _overlap, n, limit, GATHER_WAIT, what=what).value
        if out["peak"] > limit:
            raise Failed(f"In {what}, {out['peak']} fetches were in flight at the same time, but "
                         f"the limit is {limit}: a real server would be flooded with requests. "
                         f"{LIMIT_HINT}", peak=out["peak"], limit=limit)


@requirement("in-order")
def test_results_in_input_order(student, seed):
    """Results follow the order of urls, whatever order the fetches finish in"""
    import random

    shuffled = list(range(7))
    random.Random(seed).shuffle(shuffled)
    for n, limit, order in ((5, 5, None), (6, 2, None), (7, 7, shuffled)):
        how = (f"the fetches finish in the order {sorted(range(n), key=order.__getitem__)} "
               f"(seed {seed})" if order else "later urls finish first")
        what = f"fetch_all({n} urls, fetch, limit={limit}) where {how}"
        got = _run(student, _staggered, n, limit, STEP, order, what=what).value
        expected = [f"r{i}" for i in range(n)]
        if type(got) is list and sorted(map(str, got)) == expected and got != expected:
            raise Failed(f"{what} returned {got!r}, expected {expected!r}: the results are in the "
                         "order the fetches finished. asyncio.gather returns results in the "
                         "order of its arguments; with as_completed or appends, store each "
                         "result at its index instead.", got=got, expected=expected)
        expect_equal(got, expected, what)


@requirement("never-blocks")
def test_fetch_all_never_blocks_the_loop(student):
    """fetch_all never holds the event loop (no time.sleep in a coroutine)"""
    n, limit = 6, 2
    what = f"fetch_all({n} urls, fetch, limit={limit})"
    reply = _run(student, _staggered, n, limit, 0.01, what=what)
    expect_no_blocking(reply, what)


@requirement("off-loop")
def test_run_blocking_off_the_loop(student):
    """run_blocking runs the blocking call in another thread; the loop keeps running"""
    what = "run_blocking(slow_add, 2, 3) where slow_add sleeps 0.3 s"
    reply = _run(student, _blocking, what=what)
    out = reply.value
    if not out["off_loop"]:
        raise Failed(f"In {what}, slow_add ran in the event loop's own thread, so for 0.3 s no "
                     f"other coroutine could run (a ticker that wakes every 0.02 s woke "
                     f"{out['ticks']} times). Hand the call to a worker thread: "
                     "`return await asyncio.to_thread(fn, *args)` (or "
                     "`loop.run_in_executor(None, fn, *args)`).", ticks=out["ticks"])
    expect_no_blocking(reply, what)
    if out["ticks"] < 5:
        raise Failed(f"In {what}, slow_add ran in another thread, but the event loop waited for "
                     f"it: a ticker that wakes every 0.02 s woke only {out['ticks']} times in "
                     "0.3 s. Waiting for a thread with Future.result() or Thread.join() inside a "
                     "coroutine blocks the loop just like the call itself: await it instead "
                     "(`return await asyncio.to_thread(fn, *args)`).", ticks=out["ticks"])
    expect_equal(out["value"], 5, what)


@requirement("current-api")
def test_uses_current_api(student):
    """Works, and uses today's asyncio (async def and await, no @asyncio.coroutine)"""
    reply = student.reply(_staggered, 3, 2, 0.0, checks=ASYNCIO, timeout=TIMEOUT)
    expect_current_api(student)
    expect_no_asyncio_deadlock(reply, "fetch_all(3 urls, fetch, limit=2)")
