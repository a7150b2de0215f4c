"""The book's Python 3.4 asyncio: @asyncio.coroutine and `yield from` (removed in Python 3.11)."""

import asyncio


@asyncio.coroutine
def _one(gate, fetch, url):
    with (yield from gate):
        result = yield from fetch(url)
    return result


@asyncio.coroutine
def fetch_all(urls, fetch, limit):
    gate = asyncio.Semaphore(limit)
    results = yield from asyncio.gather(*[_one(gate, fetch, url) for url in urls])
    return list(results)


@asyncio.coroutine
def run_blocking(fn, *args):
    loop = asyncio.get_event_loop()
    result = yield from loop.run_in_executor(None, fn, *args)
    return result
