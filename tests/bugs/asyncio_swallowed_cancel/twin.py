"""Cancellation respected (correct twin): the worker cleans up and raises `CancelledError` again."""
import asyncio


async def worker(started):
    started.set()
    try:
        await asyncio.sleep(10)
    except asyncio.CancelledError:
        await asyncio.sleep(0)  # clean-up
        raise


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
