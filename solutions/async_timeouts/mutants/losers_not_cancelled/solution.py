import asyncio


async def with_retry(coro_fn, timeout, retries):
    for _ in range(retries + 1):
        try:
            return await asyncio.wait_for(coro_fn(), timeout)
        except asyncio.TimeoutError:
            pass
    raise TimeoutError(f"no answer within {timeout} s in {retries + 1} tries")


async def first_success(coro_fns):
    pending = {asyncio.create_task(fn()) for fn in coro_fns}
    error = None
    while pending:
        done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
        for task in done:
            if task.exception() is None:
                return task.result()
            error = task.exception()
    raise error
