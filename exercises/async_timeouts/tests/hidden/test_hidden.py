"""Hidden tests for async_timeouts.

Each bug class has a check that does not depend on timing luck: counted tries and the cleanup
of each timed-out try, a with_retry task cancelled from outside (it must end cancelled; the
asyncio check names the `except` that swallowed the CancelledError), losers whose `finally`
blocks record when they ran (at the moment first_success returns, and a little later), and
losers waiting on futures nothing else holds, so a task left pending is garbage-collected and
reported as "Task was destroyed but it is pending".
"""

from grader.testing import (
    Failed, expect_cancellation_respected, expect_equal, expect_no_asyncio_deadlock,
    expect_no_pending_destroyed,
)

TIMEOUT = 6
ASYNCIO = {"asyncio": {}}


# ---------------------------------------------------------------- probes (run in the sandbox)

def _retry(mod, slow_tries, timeout, retries, fail=False):
    """(outcome, tries, tries whose finally ran): try k (1-based) is slow while k <= slow_tries."""
    import asyncio

    state = {"tries": 0, "cleaned": 0}

    async def answer():
        state["tries"] += 1
        try:
            if fail:
                raise ValueError("bad request")
            await asyncio.sleep(5.0 if state["tries"] <= slow_tries else 0.0)
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
               await mod.first_success([after(0, "only")])]
        try:
            await mod.first_success([after(0.01, "a", fail=True), after(0.02, "b", fail=True)])
            out.append("no exception")
        except ValueError:
            out.append("ValueError")
        return out

    return asyncio.run(main())


def _losers(mod, never_resolved):
    """One quick winner and two losers that record when their finally ran; losers wait on
    asyncio.sleep or on a future nothing else refers to (a forgotten loser is then collected)."""
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
                state["cleaned"] += 1
        return coro

    async def winner():
        await asyncio.sleep(0.01)
        return "winner"

    async def main():
        value = await mod.first_success([loser(), winner, loser()])
        at_return = dict(state)
        gc.collect()
        await asyncio.sleep(0.05)
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

def test_with_retry_values(student):
    """with_retry returns the first answer that comes in time, trying again after a timeout"""
    cases = [((0, 0.5, 2), "the first try answers at once", ["ok", 1, 1]),
             ((2, 0.05, 2), "the first two tries are too slow", ["ok", 3, 3]),
             ((0, 0.5, 0), "retries=0 and the first try answers", ["ok", 1, 1])]
    for args, story, expected in cases:
        what = f"with_retry(answer, {args[1]}, {args[2]}) where {story}: [outcome, tries, cleaned up]"
        expect_equal(_run(student, _retry, *args, what=what).value, expected, what)
    what = "with_retry(answer, 0.5, 2) where answer raises ValueError: [outcome, tries, cleaned up]"
    expect_equal(_run(student, _retry, 0, 0.5, 2, True, what=what).value, ["ValueError", 1, 1],
                 what + " (only timeouts are retried; other errors reach the caller)")


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


def test_first_success_values(student):
    """first_success returns the first answer, skips failures, raises when all fail"""
    got = _run(student, _first, what="first_success(...)").value
    cases = [("first_success([after 0.2 s 'slow', after 0.01 s 'fast', after 0.1 s 'mid'])", "fast"),
             ("first_success([raises ValueError after 0.01 s, after 0.05 s 'works'])", "works"),
             ("first_success([one that returns 'only'])", "only"),
             ("first_success([two that raise ValueError]): the exception raised", "ValueError")]
    for value, (what, expected) in zip(got, cases):
        expect_equal(value, expected, what)


def test_losers_cancelled_and_cleaned_up(student):
    """When first_success returns, the losers are cancelled and their finally blocks have run"""
    what = "first_success([loser, winner, loser]) where the losers would take 5 s"
    out = _run(student, _losers, False, what=what).value
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
