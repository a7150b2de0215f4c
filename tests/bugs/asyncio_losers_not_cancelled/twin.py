"""The losers are cancelled and awaited (their finally blocks run) (correct twin)."""
import asyncio


async def first_success(coro_fns):
    tasks = [asyncio.create_task(fn()) for fn in coro_fns]
    done, pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    for t in pending:
        t.cancel()
    await asyncio.gather(*pending, return_exceptions=True)
    return next(iter(done)).result()
