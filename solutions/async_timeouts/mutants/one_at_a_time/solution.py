"""first_success awaits the coroutines one after the other until one succeeds: they never run
at the same time."""

import asyncio


async def with_retry(coro_fn, timeout, retries):
    for _ in range(retries + 1):
        try:
            return await asyncio.wait_for(coro_fn(), timeout)
        except asyncio.TimeoutError:
            pass
    raise TimeoutError(f"no answer within {timeout} s in {retries + 1} tries")


async def first_success(coro_fns):
    if not coro_fns:
        raise ValueError("first_success needs at least one coroutine function")
    error = None
    for fn in coro_fns:
        try:
            return await fn()
        except Exception as exc:
            error = exc
    raise error
