import asyncio
async def fetch_all(urls, fetch, limit):
    results = [None] * len(urls)
    async def worker(k):                 # worker k fetches urls k, k+limit, ...
        for i in range(k, len(urls), limit):
            results[i] = await fetch(urls[i])
    await asyncio.gather(*(worker(k) for k in range(limit)))
    return results

async def run_blocking(fn, *args):
    return await asyncio.to_thread(fn, *args)

