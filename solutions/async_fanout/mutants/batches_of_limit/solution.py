"""Fetches in batches of `limit`: the next batch starts only when the whole batch is done, so
after the first fetch of a batch finishes, fewer than `limit` are in flight while work waits."""

import asyncio


async def fetch_all(urls, fetch, limit):
    results = []
    for i in range(0, len(urls), limit):
        results += await asyncio.gather(*(fetch(url) for url in urls[i:i + limit]))
    return results


async def run_blocking(fn, *args):
    return await asyncio.to_thread(fn, *args)
