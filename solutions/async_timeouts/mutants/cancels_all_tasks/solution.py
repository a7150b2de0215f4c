"""first_success cleans up by cancelling every other task of the event loop, including tasks it
never started (asyncio.all_tasks()), instead of only its own."""

import asyncio


async def with_retry(coro_fn, timeout, retries):
    for _ in range(retries + 1):
        try:
            return await asyncio.wait_for(coro_fn(), timeout)
        except asyncio.TimeoutError:
            pass
    raise TimeoutError(f"no answer within {timeout} s in {retries + 1} tries")


async def first_success(coro_fns):
    tasks = [asyncio.create_task(fn()) for fn in coro_fns]
    error = None
    try:
        for next_done in asyncio.as_completed(tasks):
            try:
                return await next_done
            except Exception as exc:
                error = exc
        raise error
    finally:
        others = asyncio.all_tasks() - {asyncio.current_task()}
        for task in others:
            task.cancel()
        await asyncio.gather(*others, return_exceptions=True)
