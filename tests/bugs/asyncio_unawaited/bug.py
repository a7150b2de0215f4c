"""Un-awaited coroutine: `save(x)` without `await` only creates a coroutine object; nothing is saved."""
import asyncio


async def save(store, x):
    await asyncio.sleep(0)
    store.append(x)


async def process(items):
    store = []
    for x in items:
        save(store, x * 10)
    await asyncio.sleep(0.01)
    return store


def run(items):
    return asyncio.run(process(items))
