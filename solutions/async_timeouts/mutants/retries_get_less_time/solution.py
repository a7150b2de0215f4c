"""Reference solution for async_timeouts."""

import asyncio


async def with_retry(coro_fn, timeout, retries):
    for k in range(retries + 1):
        try:
            return await asyncio.wait_for(coro_fn(), timeout / (k + 1))   # each retry gets less time
        except asyncio.TimeoutError:
            pass
    raise TimeoutError(f"no answer within {timeout} s in {retries + 1} tries")


async def first_success(coro_fns):
    if not coro_fns:
        raise ValueError("first_success needs at least one coroutine function")
    tasks = [asyncio.create_task(fn()) for fn in coro_fns]
    try:
        error = None
        for next_done in asyncio.as_completed(tasks):
            try:
                return await next_done
            except Exception as exc:
                error = exc
        raise error
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
