"""Blocking sleep in a coroutine: `time.sleep` freezes the event loop, so the five downloads run
one after the other instead of together."""
import asyncio
import time


async def fetch(i, delay):
    time.sleep(delay)
    return i * i


async def fetch_all(n, delay):
    return await asyncio.gather(*(fetch(i, delay) for i in range(n)))


def run(n, delay):
    return asyncio.run(fetch_all(n, delay))
