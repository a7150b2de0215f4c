"""`undumpable()`: close this process's memory to every other process of its user.

With PR_SET_DUMPABLE 0 there are no core dumps, no ptrace by the same user, and
/proc/<pid>/{mem,environ,fd...} belong to root: the agent's memory (its line's key among it) and
the template's are closed to the student's other processes. Standard library only, and light:
the supervisor's template imports it.
"""

from __future__ import annotations

import ctypes
import os

PR_SET_DUMPABLE = 4


def undumpable() -> None:
    """Make this process non-dumpable; OSError if the kernel refuses (or libc cannot be loaded)."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"prctl(PR_SET_DUMPABLE, 0) failed: {os.strerror(errno)}")
