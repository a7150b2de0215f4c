"""Reference solution for async_fanout, accepting async callables too (honest)."""

import asyncio
import inspect


async def fetch_all(urls, fetch, limit):
    gate = asyncio.Semaphore(limit)

    async def one(url):
        async with gate:
            return await fetch(url)

    return list(await asyncio.gather(*(one(url) for url in urls)))


async def run_blocking(fn, *args):
    if inspect.iscoroutinefunction(fn):  # already async: just await it
        return await fn(*args)
    return await asyncio.to_thread(fn, *args)
