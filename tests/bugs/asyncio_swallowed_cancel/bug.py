"""Swallowed cancellation: the worker catches `CancelledError` and returns normally, so whoever
cancelled it believes it stopped while it reports success."""
import asyncio


async def worker(started):
    started.set()
    try:
        await asyncio.sleep(10)
    except asyncio.CancelledError:
        return "finished"


async def cancel_worker():
    started = asyncio.Event()
    task = asyncio.create_task(worker(started))
    await started.wait()
    task.cancel()
    try:
        return await task
    except asyncio.CancelledError:
        return "cancelled"


def run():
    return asyncio.run(cancel_worker())
