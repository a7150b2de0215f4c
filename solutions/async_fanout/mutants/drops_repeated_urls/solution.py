"""Fetches each distinct url once and returns one result per distinct url: a url given twice
gets one result."""

import asyncio


async def fetch_all(urls, fetch, limit):
    gate = asyncio.Semaphore(limit)

    async def one(url):
        async with gate:
            return await fetch(url)

    unique = list(dict.fromkeys(urls))
    return list(await asyncio.gather(*(one(url) for url in unique)))


async def run_blocking(fn, *args):
    return await asyncio.to_thread(fn, *args)
