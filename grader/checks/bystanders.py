"""Bystanders: asyncio tasks that run alongside a student's coroutine and that it must not touch.

A probe awaits the student's coroutine inside `alongside`:

    from grader.checks.bystanders import alongside
    report = await alongside(lambda: mod.first_success([...]))

Two tasks the student's code never started run meanwhile: one ticking in short sleeps, one
waiting on an event only the grader sets. The report says what happened to each (still
running, cancelled, ended) and whether the ticker kept ticking. Judged by
`grader.judge.expect_asyncio.expect_bystanders_untouched`. Code that cancels every task of the
loop (`asyncio.all_tasks()`), or that blocks the loop, shows here even though its own result
is right.
"""

from __future__ import annotations

import asyncio

TICK = 0.005  # seconds between the ticker's ticks
NAMES = ("grader-bystander-ticker", "grader-bystander-waiter")


async def alongside(make_coro, settle: float = 4 * TICK) -> dict:
    """Await `make_coro()` with the bystanders running; the outcome and the bystanders' fate."""
    state = {"ticks": 0, NAMES[0]: "running", NAMES[1]: "running"}
    release = asyncio.Event()

    async def ticker():
        try:
            while True:
                await asyncio.sleep(TICK)
                state["ticks"] += 1
        except asyncio.CancelledError:
            state[NAMES[0]] = "cancelled"
            raise

    async def waiter():
        try:
            await release.wait()
            state[NAMES[1]] = "released"
        except asyncio.CancelledError:
            state[NAMES[1]] = "cancelled"
            raise

    tasks = [
        asyncio.create_task(ticker(), name=NAMES[0]),
        asyncio.create_task(waiter(), name=NAMES[1]),
    ]
    await asyncio.sleep(0)
    me = asyncio.current_task()
    assert me is not None  # this coroutine runs as a task
    try:
        outcome = {"returned": _plain(await make_coro())}
    except asyncio.CancelledError:
        outcome = {"raised": "CancelledError"}
        if me.cancelling():
            me.uncancel()  # the student's code cancelled the task awaiting it: go on and report
    except Exception as exc:  # noqa: BLE001 - reported as data
        outcome = {"raised": type(exc).__name__, "message": str(exc)[:300]}
    ticks_at_return = state["ticks"]
    await asyncio.sleep(settle)
    fate = {}
    for task in tasks:
        name = task.get_name()
        fate[name] = state[name] if state[name] != "running" or not task.done() else "ended"
    release.set()
    tasks[0].cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    return {
        **outcome,
        "bystanders": fate,
        "ticks_at_return": ticks_at_return,
        "ticks_after": state["ticks"],
    }


def _plain(value):
    return (
        value
        if isinstance(value, (int, float, str, bool, type(None), list, tuple))
        else repr(value)
    )
