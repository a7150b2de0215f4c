"""async_fanout (correct twin): async def and await."""

import asyncio


async def fetch_all(urls, fetch, limit):
    gate = asyncio.Semaphore(limit)

    async def one(url):
        async with gate:
            return await fetch(url)

    return list(await asyncio.gather(*(one(url) for url in urls)))


async def run_blocking(fn, *args):
    return await asyncio.to_thread(fn, *args)
