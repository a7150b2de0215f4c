"""A Semaphore(limit) around each fetch (correct twin)."""
import asyncio


async def fetch_all(urls, fetch, limit):
    sem = asyncio.Semaphore(limit)

    async def one(u):
        async with sem:
            return await fetch(u)

    return await asyncio.gather(*(one(u) for u in urls))
