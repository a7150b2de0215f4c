"""Sliced waiting done right (correct twin): each slice is `await asyncio.sleep`, so the
downloads wait together."""
import asyncio


async def fetch(i, delay):
    for _ in range(4):
        await asyncio.sleep(delay / 4)
    return i * i


async def fetch_all(n, delay):
    return await asyncio.gather(*(fetch(i, delay) for i in range(n)))


def run(n, delay):
    return asyncio.run(fetch_all(n, delay))
