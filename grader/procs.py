"""Small facts about processes on this machine."""

from __future__ import annotations

import os


def alive(pid: int) -> bool:
    """Is process `pid` running (also when it belongs to another user)?"""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
