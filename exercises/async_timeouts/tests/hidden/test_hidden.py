"""Hidden tests for async_timeouts.

Each bug class has a check that does not depend on timing luck: counted tries and the cleanup
of each timed-out try, a with_retry task cancelled from outside (it must end cancelled; the
asyncio check names the `except` that swallowed the CancelledError), losers whose `finally`
blocks record when they ran (at the moment first_success returns, and a little later), and
losers waiting on futures nothing else holds, so a task left pending is garbage-collected and
reported as "Task was destroyed but it is pending".
"""

from grader.testing import (
    Failed, expect_bystanders_untouched, expect_cancellation_respected, expect_equal,
    expect_no_asyncio_deadlock, expect_no_pending_destroyed, requirement,
)

TIMEOUT = 6
ASYNCIO = {"asyncio": {}}
LOSER_CLEANUP = 0.1  # seconds a loser's finally block awaits (its clean-up) before it has stopped


# ---------------------------------------------------------------- probes (run in the sandbox)

def _retry(mod, slow_tries, timeout, retries, fail=False, later=0.0):
    """(outcome, tries, tries whose finally ran): try k (1-based) is slow while k <= slow_tries;
    the tries after that take `later` seconds."""
    import asyncio

    state = {"tries": 0, "cleaned": 0}

    async def answer():
        state["tries"] += 1
        try:
            if fail:
                raise ValueError("bad request")
            await asyncio.sleep(5.0 if state["tries"] <= slow_tries else later)
            return "ok"
        finally:
            state["cleaned"] += 1

    async def main():
        try:
            outcome = await mod.with_retry(answer, timeout, retries)
        except Exception as exc:
            outcome = "TimeoutError" if isinstance(exc, TimeoutError) else type(exc).__name__
        return [outcome, state["tries"], state["cleaned"]]

    return asyncio.run(main())


def _retry_trace(mod, timeout, retries, cleanup):
    """Every try is too slow; each try's finally block takes `cleanup` seconds of async clean-up
    (closing a connection, say). The order of events: ["start", k], ["finally", k],
    ["finished", k]."""
    import asyncio

    trace = []

    async def answer():
        k = sum(1 for e in trace if e[0] == "start") + 1
        trace.append(["start", k])
        try:
            await asyncio.sleep(5.0)
            return "late"
        finally:
            trace.append(["finally", k])
            await asyncio.sleep(cleanup)
            trace.append(["finished", k])

    async def main():
        try:
            outcome = repr(await mod.with_retry(answer, timeout, retries))
        except Exception as exc:
            outcome = type(exc).__name__
        return {"outcome": outcome, "trace": list(trace)}

    return asyncio.run(main())


def _together(mod, n, wait):
    """n coroutines that each wait (at most `wait` s) until all n have started; coroutine 1 then
    answers first. How many had started when the first one finished?"""
    import asyncio

    async def main():
        started, everyone = [], asyncio.Event()

        def make(i):
            async def coro():
                started.append(i)
                if len(started) == n:
                    everyone.set()
                try:
                    await asyncio.wait_for(everyone.wait(), wait)
                except asyncio.TimeoutError:
                    pass
                await asyncio.sleep(0.01 if i == 1 else 0.3)
                return f"coro {i} ({len(started)} started)"
            return coro

        return await mod.first_success([make(i) for i in range(n)])

    return asyncio.run(main())


def _bystanders(mod, which):
    """first_success or with_retry with tasks the grader started running alongside."""
    import asyncio

    from grader.checks.bystanders import alongside

    async def quick():
        await asyncio.sleep(0.01)
        return "quick"

    async def slow():
        try:
            await asyncio.sleep(5.0)
        finally:
            pass
        return "slow"

    async def main():
        if which == "first_success":
            return await alongside(lambda: mod.first_success([slow, quick, slow]))
        return await alongside(lambda: mod.with_retry(quick, 0.5, 1))

    return asyncio.run(main())


def _cancel_retry(mod):
    """Cancel a with_retry task from outside while its first try runs; how did it end?"""
    import asyncio

    async def main():
        started = asyncio.Event()

        async def slow():
            started.set()
            await asyncio.sleep(5.0)
            return "late"

        task = asyncio.create_task(mod.with_retry(slow, 0.1, 2))
        await started.wait()
        task.cancel()
        try:
            value = await task
            return f"returned {value!r}"
        except asyncio.CancelledError:
            return "cancelled"
        except Exception as exc:
            return f"raised {type(exc).__name__}"

    return asyncio.run(main())


def _first(mod):
    import asyncio

    def after(seconds, value, fail=False):
        async def coro():
            await asyncio.sleep(seconds)
            if fail:
                raise ValueError(value)
            return value
        return coro

    async def main():
        out = [await mod.first_success([after(0.2, "slow"), after(0.01, "fast"), after(0.1, "mid")]),
               await mod.first_success([after(0.01, "broken", fail=True), after(0.05, "works")]),
               await mod.first_success([after(0.4, "slow ok"), after(0.01, "broken", fail=True),
                                        after(0.05, "fast ok")]),
               await mod.first_success([after(0, "only")])]
        try:
            await mod.first_success([after(0.01, "a", fail=True), after(0.02, "b", fail=True)])
            out.append("no exception")
        except ValueError:
            out.append("ValueError")
        return out

    return asyncio.run(main())


def _losers(mod, never_resolved, cleanup=0.0):
    """One quick winner and two losers that record when their finally ran; losers wait on
    asyncio.sleep or on a future nothing else refers to (a forgotten loser is then collected).
    A loser's finally block first awaits `cleanup` seconds of clean-up (closing a connection):
    it has stopped only once that is done."""
    import asyncio
    import gc

    state = {"cleaned": 0, "cancelled": 0, "destroyed": 0}

    def loser():
        async def coro():
            try:
                if never_resolved:
                    await asyncio.get_running_loop().create_future()
                else:
                    await asyncio.sleep(5.0)
                return "loser"
            except asyncio.CancelledError:
                state["cancelled"] += 1
                raise
            except GeneratorExit:  # closed by the garbage collector while its task was pending
                state["destroyed"] += 1
                raise
            finally:
                if cleanup:
                    await asyncio.sleep(cleanup)
                state["cleaned"] += 1
        return coro

    async def winner():
        await asyncio.sleep(0.01)
        return "winner"

    async def main():
        value = await mod.first_success([loser(), winner, loser()])
        at_return = dict(state)
        gc.collect()
        await asyncio.sleep(0.05 + cleanup)
        gc.collect()
        return {"value": value, "at_return": at_return, "later": dict(state)}

    return asyncio.run(main())


# ---------------------------------------------------------------- judge-side helpers

def _run(student, probe, *args, what):
    """Run a probe under the asyncio check and settle a reply that is not a value."""
    reply = student.reply(probe, *args, checks=ASYNCIO, timeout=TIMEOUT, what=what)
    expect_no_asyncio_deadlock(reply, what)
    return reply


# ---------------------------------------------------------------- tests

@requirement("retries", "first-in-time", "other-errors")
def test_with_retry_values(student):
    """with_retry returns the first answer that comes in time, trying again after a timeout"""
    cases = [((0, 0.5, 2), "the first try answers at once", ["ok", 1, 1]),
             ((2, 0.05, 2), "the first two tries are too slow", ["ok", 3, 3]),
             ((0, 0.5, 0), "retries=0 and the first try answers", ["ok", 1, 1])]
    for args, story, expected in cases:
        what = f"with_retry(answer, {args[1]}, {args[2]}) where {story}: [outcome, tries, cleaned up]"
        expect_equal(_run(student, _retry, *args, what=what).value, expected, what)
    what = ("with_retry(answer, 0.4, 2) where the first try is too slow and the second answers "
            "after 0.25 s: [outcome, tries, cleaned up]")
    expect_equal(_run(student, _retry, 1, 0.4, 2, False, 0.25, what=what).value, ["ok", 2, 2],
                 what, hint="Every try gets the whole `timeout`, the retries too.")
    what = "with_retry(answer, 0.5, 2) where answer raises ValueError: [outcome, tries, cleaned up]"
    expect_equal(_run(student, _retry, 0, 0.5, 2, True, what=what).value, ["ValueError", 1, 1],
                 what + " (only timeouts are retried; other errors reach the caller)")


@requirement("retries", "first-in-time")
def test_with_retry_times_out_after_last_try(student):
    """After retries + 1 slow tries, with_retry raises TimeoutError, each try cleaned up"""
    what = "with_retry(answer, 0.05, 3) where every try is too slow"
    outcome, tries, cleaned = _run(student, _retry, 99, 0.05, 3, what=what).value
    if outcome != "TimeoutError":
        raise Failed(f"{what} ended with {outcome!r}; it should raise TimeoutError after the last "
                     "try.", outcome=outcome)
    if tries != 4:
        raise Failed(f"{what} made {tries} tries; the first try and 3 retries make 4.", tries=tries)
    if cleaned != tries:
        raise Failed(f"In {what}, only {cleaned} of the {tries} timed-out tries had finished (their "
                     "finally blocks run) when with_retry gave up: a try that timed out must be "
                     "cancelled and waited for, as asyncio.wait_for (or `async with "
                     "asyncio.timeout(...)`) does.", cleaned=cleaned, tries=tries)


@requirement("try-finished")
def test_each_try_finished_before_the_next(student):
    """A timed-out try is cancelled and has finished its clean-up before the next try starts"""
    what = "with_retry(answer, 0.05, 2) where every try is too slow and cleans up for 0.05 s"
    out = _run(student, _retry_trace, 0.05, 2, 0.05, what=what).value
    trace = [tuple(e) for e in out["trace"]]
    for k in range(2, 4):
        if ("start", k) not in trace:
            continue
        if ("finished", k - 1) not in trace or trace.index(("finished", k - 1)) > trace.index(
                ("start", k)):
            raise Failed(f"In {what}, try {k} started while try {k - 1} was still cleaning up "
                         "(its finally block had not finished): the tries overlap, so the work "
                         "a timed-out try still does runs beside the next one. Cancel the timed-"
                         "out try and wait until it has finished before trying again: "
                         "asyncio.wait_for (or `async with asyncio.timeout(...)`) does both.",
                         trace=out["trace"])
    expect_equal(out["outcome"], "TimeoutError", what)


@requirement("cancellable")
def test_with_retry_can_be_cancelled(student):
    """A with_retry task cancelled from outside ends cancelled, not retrying"""
    what = "with_retry(slow, 0.1, 2) cancelled from outside during its first try"
    reply = _run(student, _cancel_retry, what=what)
    expect_cancellation_respected(reply, what, hint="Catch only the timeout "
                                  "(asyncio.TimeoutError), never asyncio.CancelledError.")
    if reply.value != "cancelled":
        raise Failed(f"{what} {reply.value} instead of stopping with CancelledError: a cancelled "
                     "task must stop. Catch only the timeout (asyncio.TimeoutError) to retry.",
                     outcome=reply.value)


@requirement("first-success", "all-fail")
def test_first_success_values(student):
    """first_success returns the first answer, skips failures, raises when all fail"""
    got = _run(student, _first, what="first_success(...)").value
    cases = [("first_success([after 0.2 s 'slow', after 0.01 s 'fast', after 0.1 s 'mid'])", "fast"),
             ("first_success([raises ValueError after 0.01 s, after 0.05 s 'works'])", "works"),
             ("first_success([after 0.4 s 'slow ok', raises ValueError after 0.01 s, after 0.05 s "
              "'fast ok']): after a failure, still the first success in time", "fast ok"),
             ("first_success([one that returns 'only'])", "only"),
             ("first_success([two that raise ValueError]): the exception raised", "ValueError")]
    for value, (what, expected) in zip(got, cases):
        expect_equal(value, expected, what)


@requirement("all-at-once")
def test_first_success_starts_every_coroutine(student):
    """first_success starts every coroutine before any of them finishes"""
    what = "first_success([coro 0, coro 1, coro 2]) where each waits for the others to start"
    got = _run(student, _together, 3, 1.0, what=what).value
    if got != "coro 1 (3 started)":
        raise Failed(f"{what} returned {got!r}: the coroutines did not all run at the same time "
                     "(coro 1, the fastest once all three run, should win). Start every "
                     "coroutine as a task (asyncio.create_task) before waiting for any of them.",
                     got=got)


@requirement("losers-stopped")
def test_losers_cancelled_and_cleaned_up(student):
    """When first_success returns, the losers are cancelled and their finally blocks have run"""
    what = ("first_success([loser, winner, loser]) where the losers would take 5 s and their "
            f"finally blocks await {LOSER_CLEANUP:g} s of clean-up")
    out = _run(student, _losers, False, LOSER_CLEANUP, what=what).value
    expect_equal(out["value"], "winner", what)
    if out["at_return"]["cleaned"] == 2:
        return
    if out["later"]["cleaned"] == 2:
        raise Failed(f"In {what}, the losers were cancelled but first_success returned before "
                     f"they had stopped (their finally blocks ran only afterwards). task.cancel() "
                     f"only asks a task to stop; await the cancelled tasks (for example "
                     f"`await asyncio.gather(*tasks, return_exceptions=True)`) before returning.",
                     **out)
    raise Failed(f"In {what}, the losers were still running when first_success returned: "
                 f"{2 - out['later']['cancelled']} of them were never cancelled, so they go on "
                 f"using time and resources for an answer nobody wants. Cancel every task that "
                 f"did not win (task.cancel()) and await them.", **out)


@requirement("losers-stopped")
def test_no_task_destroyed_pending(student):
    """No task of first_success is dropped while still pending"""
    what = "first_success([loser, winner, loser]) where the losers wait forever"
    reply = _run(student, _losers, True, what=what)
    hint = "In first_success, cancel the tasks that did not win and await them before returning."
    expect_no_pending_destroyed(reply, what, hint=hint)
    out = reply.value
    if out["later"]["destroyed"]:
        raise Failed(f"In {what}, {out['later']['destroyed']} loser task(s) were still pending when "
                     "first_success returned and nothing referred to them any more, so the garbage "
                     "collector destroyed them (asyncio logs \"Task was destroyed but it is "
                     "pending!\"): their work was dropped half-way, without a CancelledError. "
                     + hint, **out)
    expect_equal(out["value"], "winner", what)


@requirement("own-tasks-only")
def test_other_tasks_left_alone(student):
    """first_success and with_retry leave alone the tasks they did not start"""
    for which, call in (("first_success", "first_success([slow, quick, slow])"),
                        ("with_retry", "with_retry(quick, 0.5, 1)")):
        what = f"{call}, with tasks of the grader's running alongside"
        out = _run(student, _bystanders, which, what=what).value
        expect_bystanders_untouched(out, what)
        expect_equal(out.get("returned"), "quick", what)
