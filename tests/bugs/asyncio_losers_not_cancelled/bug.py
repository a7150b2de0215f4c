"""The first result is returned, the other tasks are left running."""
import asyncio


async def first_success(coro_fns):
    tasks = [asyncio.create_task(fn()) for fn in coro_fns]
    done, pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    return next(iter(done)).result()
