import asyncio


async def fetch_all(urls, fetch, limit):
    return list(await asyncio.gather(*(fetch(url) for url in urls)))


async def run_blocking(fn, *args):
    return await asyncio.to_thread(fn, *args)
