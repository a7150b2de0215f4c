"""first_success returns whatever finishes first: a failure that comes first is raised
instead of skipped."""

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
    tasks = [asyncio.create_task(fn()) for fn in coro_fns]
    try:
        error = None
        for next_done in asyncio.as_completed(tasks):
            return await next_done
        raise error
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
