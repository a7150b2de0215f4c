"""grader.checks.startmethod.forked: inside it every process multiprocessing starts is forked,
whatever context it came from, so a probe's patches reach every child; outside, nothing changed."""

import multiprocessing
import os

from grader.checks.startmethod import forked

_PATCHED = []  # a forked child sees what the parent put here; a spawned child sees []


def _report(queue):
    queue.put((multiprocessing.current_process().name, list(_PATCHED), os.getppid()))


def _started_with(ctx) -> list:
    queue = ctx.Queue()
    proc = ctx.Process(target=_report, args=(queue,), name="child")
    proc.start()
    try:
        return queue.get(timeout=60)[1]
    finally:
        proc.join(60)


def _scenario():
    spawn, forkserver = (multiprocessing.get_context(m) for m in ("spawn", "forkserver"))
    _PATCHED.append("the probe's patch")
    with forked():
        assert _started_with(spawn) == ["the probe's patch"]
        assert _started_with(forkserver) == ["the probe's patch"]
        with multiprocessing.get_context("spawn").Pool(1) as pool:  # a pool given spawn
            assert pool.apply(list, (_PATCHED,)) == ["the probe's patch"]
    assert _started_with(spawn) == []  # restored: a fresh interpreter again


def test_spawn_and_forkserver_contexts_fork_inside_the_block():
    # in a child of its own: the spawn start method's resource tracker ends with it
    child = multiprocessing.get_context("fork").Process(target=_scenario)
    child.start()
    child.join(120)
    assert child.exitcode == 0, "the scenario failed in the child (its traceback is above)"


def test_restored_even_when_the_block_raises():
    from multiprocessing import context

    before = {
        n: getattr(context, n).__dict__["_Popen"] for n in ("SpawnProcess", "ForkServerProcess")
    }
    try:
        with forked():
            raise KeyError("the student's code raised")
    except KeyError:
        pass
    after = {
        n: getattr(context, n).__dict__["_Popen"] for n in ("SpawnProcess", "ForkServerProcess")
    }
    assert after == before
