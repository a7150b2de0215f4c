"""One await after the other: never more than one fetch in flight."""
import asyncio


async def fetch_all(urls, fetch, limit):
    return [await fetch(u) for u in urls]
