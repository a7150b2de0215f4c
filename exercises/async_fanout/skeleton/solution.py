"""Fan out requests with asyncio. See README.md for the exercise."""

import asyncio


async def fetch_all(urls, fetch, limit):
    """Await fetch(url) for every url, at most `limit` of them in flight at once;
    return the results in the order of urls."""
    raise NotImplementedError


async def run_blocking(fn, *args):
    """Run the blocking call fn(*args) without blocking the event loop; return its result."""
    raise NotImplementedError
