"""Public tests for async_timeouts: run them with `grader check async_timeouts`."""

from grader.testing import expect_equal, requirement


def _retry(mod, slow_tries):
    import asyncio

    calls = []

    async def answer():
        calls.append(1)
        await asyncio.sleep(1.0 if len(calls) <= slow_tries else 0.0)
        return 42

    async def main():
        try:
            return [await mod.with_retry(answer, 0.05, 2), len(calls)]
        except TimeoutError:
            return ["TimeoutError", len(calls)]

    return asyncio.run(main())


def _first(mod):
    import asyncio

    def after(seconds, value):
        async def coro():
            await asyncio.sleep(seconds)
            return value
        return coro

    return asyncio.run(mod.first_success([after(0.3, "slow"), after(0.01, "fast")]))


@requirement("retries", "first-in-time")
def test_with_retry(student):
    """with_retry returns the answer of the first try in time, or raises TimeoutError"""
    expect_equal(student.run(_retry, 1, timeout=5), [42, 2],
                 "with_retry(answer, 0.05, 2) where the first try is too slow: (value, tries)")
    expect_equal(student.run(_retry, 5, timeout=5), ["TimeoutError", 3],
                 "with_retry(answer, 0.05, 2) where every try is too slow: (outcome, tries)")


@requirement("first-success")
def test_first_success(student):
    """first_success returns the fastest answer"""
    expect_equal(student.run(_first, timeout=5), "fast", "first_success([slow, fast])")
