"""`await asyncio.sleep` in a coroutine (correct twin): the downloads wait together."""
import asyncio


async def fetch(i, delay):
    await asyncio.sleep(delay)
    return i * i


async def fetch_all(n, delay):
    return await asyncio.gather(*(fetch(i, delay) for i in range(n)))


def run(n, delay):
    return asyncio.run(fetch_all(n, delay))
