import asyncio


async def fetch_all(urls, fetch, limit):
    results = []
    for url in urls:
        results.append(await fetch(url))
    return results


async def run_blocking(fn, *args):
    return await asyncio.to_thread(fn, *args)
