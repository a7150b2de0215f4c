"""each timed-out try is cancelled but left to finish on its own while the next try runs
(awaited only at the end): the tries overlap."""

import asyncio


async def with_retry(coro_fn, timeout, retries):
    abandoned = []
    try:
        for _ in range(retries + 1):
            task = asyncio.ensure_future(coro_fn())
            done, _ = await asyncio.wait({task}, timeout=timeout)
            if done:
                return task.result()
            task.cancel()  # asked to stop, not waited for: the next try starts at once
            abandoned.append(task)
        raise TimeoutError(f"no answer within {timeout} s in {retries + 1} tries")
    finally:
        await asyncio.gather(*abandoned, return_exceptions=True)


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
