"""Blocking sleep cut into slices: each download waits `delay` in four `time.sleep` slices with
`await asyncio.sleep(0)` between them. No single step of the event loop is long, but while a
slice sleeps no other coroutine runs, so the five downloads still run one after the other."""
import asyncio
import time


async def fetch(i, delay):
    for _ in range(4):
        time.sleep(delay / 4)
        await asyncio.sleep(0)  # "lets the others run", but each slice still blocks them
    return i * i


async def fetch_all(n, delay):
    return await asyncio.gather(*(fetch(i, delay) for i in range(n)))


def run(n, delay):
    return asyncio.run(fetch_all(n, delay))
