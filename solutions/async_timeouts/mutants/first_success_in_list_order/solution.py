import asyncio
async def with_retry(coro_fn, timeout, retries):
    for _ in range(retries + 1):
        try:
            return await asyncio.wait_for(coro_fn(), timeout)
        except asyncio.TimeoutError:
            pass
    raise TimeoutError("no answer")
async def first_success(coro_fns):
    tasks = [asyncio.create_task(fn()) for fn in coro_fns]
    try:
        done, pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        for t in done:                       # only the first round of finishers is looked at
            if not t.exception():
                return t.result()
        # the first finisher failed: wait for everything, take any success
        await asyncio.wait(pending)
        for t in tasks:
            if not t.cancelled() and t.exception() is None:
                return t.result()
        raise next(t.exception() for t in tasks)
    finally:
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
