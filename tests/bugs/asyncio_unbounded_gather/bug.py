"""asyncio.gather over every url: no limit on the fetches in flight."""
import asyncio


async def fetch_all(urls, fetch, limit):
    return await asyncio.gather(*(fetch(u) for u in urls))
