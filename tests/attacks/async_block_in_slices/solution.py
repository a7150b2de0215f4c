"""Attack: the sleep_blocks_loop mutant of async_fanout (a "polite" time.sleep(0.1) in the
coroutine blocks the whole event loop; honestly 8.95/10) that sleeps the same 0.1 s in four
slices of 25 ms with an `await asyncio.sleep(0)` between them: the loop is held as long as
before, but no single step reaches the check's 0.05 s (slow_callback), and steps are judged one
by one."""

import asyncio
import time


async def fetch_all(urls, fetch, limit):
    gate = asyncio.Semaphore(limit)

    async def one(url):
        async with gate:
            result = await fetch(url)
            for _ in range(4):  # be polite to the server, a little at a time
                time.sleep(0.025)
                await asyncio.sleep(0)
            return result

    return list(await asyncio.gather(*(one(url) for url in urls)))


async def run_blocking(fn, *args):
    return await asyncio.to_thread(fn, *args)
