"""asyncio lock inversion: five philosophers each take their left fork, then their right one, so
every task can hold one `asyncio.Lock` and wait for the next."""
import asyncio


async def philosopher(i, forks, meals):
    left, right = forks[i], forks[(i + 1) % len(forks)]
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
