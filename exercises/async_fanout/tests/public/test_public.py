"""Public tests for async_fanout: run them with `grader check async_fanout`."""

from grader.testing import expect_equal, requirement


def _fetch_squares(mod, n, limit):
    import asyncio

    async def fetch(url):
        await asyncio.sleep(0.01)
        return url * url

    return asyncio.run(mod.fetch_all(list(range(n)), fetch, limit))


def _blocking_add(mod):
    import asyncio
    import time

    def slow_add(a, b):
        time.sleep(0.05)
        return a + b

    return asyncio.run(mod.run_blocking(slow_add, 2, 3))


@requirement("values")
def test_fetch_all_small(student):
    """fetch_all returns fetch(url) for every url, in order"""
    expect_equal(student.run(_fetch_squares, 5, 2, timeout=5), [0, 1, 4, 9, 16],
                 "fetch_all([0, 1, 2, 3, 4], fetch returning url * url, limit=2)")
    expect_equal(student.run(_fetch_squares, 0, 3, timeout=5), [], "fetch_all([], fetch, 3)")


@requirement("off-loop")
def test_run_blocking_value(student):
    """run_blocking returns the blocking function's result"""
    expect_equal(student.run(_blocking_add, timeout=5), 5, "run_blocking(slow_add, 2, 3)")
