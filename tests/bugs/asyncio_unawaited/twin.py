"""Every coroutine awaited (correct twin): `await save(x)` runs its body."""
import asyncio


async def save(store, x):
    await asyncio.sleep(0)
    store.append(x)


async def process(items):
    store = []
    for x in items:
        await save(store, x * 10)
    await asyncio.sleep(0.01)
    return store


def run(items):
    return asyncio.run(process(items))
