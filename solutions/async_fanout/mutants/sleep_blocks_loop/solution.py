import asyncio
import time


async def fetch_all(urls, fetch, limit):
    gate = asyncio.Semaphore(limit)

    async def one(url):
        async with gate:
            result = await fetch(url)
            time.sleep(0.1)  # be polite to the server
            return result

    return list(await asyncio.gather(*(one(url) for url in urls)))


async def run_blocking(fn, *args):
    return await asyncio.to_thread(fn, *args)
