"""What a hidden test's probe may ask of multiprocessing's start methods.

A probe watches the student's child processes by patching classes in its own process (a spy on
`SharedMemory.__init__`, slow reads of a `Value`): a forked child inherits the patches, a child
started by `spawn` or `forkserver` (a fresh interpreter) does not, and would go unwatched. Inside
`forked()`, every process multiprocessing starts is forked, whatever context the student's code
took it from (`get_context("spawn")`, `set_start_method`, a context captured when the module was
imported, a Pool or ProcessPoolExecutor given one): the patches reach every child. Only for
what does not depend on the start method; a test of the spawn start method itself runs without
it. The agent keeps this module live for the probes (`grader.agent.agent.VISIBLE`); the
student's code cannot import it.
"""

from __future__ import annotations

import contextlib
from multiprocessing import context

_OTHERS = ("SpawnProcess", "ForkServerProcess")


@contextlib.contextmanager
def forked():
    """Every process started inside the block is forked (the `_Popen` of the other start
    methods' process classes is the fork one's, the standard library's own function)."""
    fork_popen = context.ForkProcess.__dict__["_Popen"]
    saved = {name: getattr(context, name).__dict__["_Popen"] for name in _OTHERS}
    for name in _OTHERS:
        getattr(context, name)._Popen = fork_popen
    try:
        yield
    finally:
        for name, popen in saved.items():
            getattr(context, name)._Popen = popen
