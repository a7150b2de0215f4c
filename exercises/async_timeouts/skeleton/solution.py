"""Timeouts, retries and the first answer. See README.md for the exercise."""

import asyncio


async def with_retry(coro_fn, timeout, retries):
    """Await coro_fn() with a time limit of `timeout` seconds; on a timeout try again with a
    fresh coro_fn(), up to `retries` more times; raise TimeoutError after the last try."""
    raise NotImplementedError


async def first_success(coro_fns):
    """Run coro_fn() for every coro_fn at once; return the first result that succeeds, cancel
    the others and wait until they have finished."""
    raise NotImplementedError
