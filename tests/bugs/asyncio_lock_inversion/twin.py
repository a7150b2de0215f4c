"""asyncio locks in one global order (correct twin): every philosopher takes the lower-numbered
fork first."""
import asyncio


async def philosopher(i, forks, meals):
    left, right = sorted((i, (i + 1) % len(forks)))
    left, right = forks[left], forks[right]
    for _ in range(meals):
        async with left:
            await asyncio.sleep(0)
            async with right:
                await asyncio.sleep(0)


async def dine(n, meals):
    forks = [asyncio.Lock() for _ in range(n)]
    await asyncio.gather(*(philosopher(i, forks, meals) for i in range(n)))
    return meals * n


def run(n, meals):
    return asyncio.run(dine(n, meals))
