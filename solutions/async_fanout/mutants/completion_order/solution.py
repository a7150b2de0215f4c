"""Collects the results with asyncio.as_completed: in the order the fetches finish."""

import asyncio


async def fetch_all(urls, fetch, limit):
    gate = asyncio.Semaphore(limit)

    async def one(url):
        async with gate:
            return await fetch(url)

    return [await done for done in asyncio.as_completed([one(url) for url in urls])]


async def run_blocking(fn, *args):
    return await asyncio.to_thread(fn, *args)
