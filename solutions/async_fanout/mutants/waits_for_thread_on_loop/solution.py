"""run_blocking runs fn in a worker thread, then waits for it with Future.result(): the call is
off the loop's thread, but the loop itself is blocked while it waits."""

import asyncio
from concurrent.futures import ThreadPoolExecutor

_POOL = ThreadPoolExecutor(4)


async def fetch_all(urls, fetch, limit):
    gate = asyncio.Semaphore(limit)

    async def one(url):
        async with gate:
            return await fetch(url)

    return list(await asyncio.gather(*(one(url) for url in urls)))


async def run_blocking(fn, *args):
    return _POOL.submit(fn, *args).result()
