"""Small facts about processes on this machine."""

from __future__ import annotations

import psutil


def alive(pid: int) -> bool:
    """Is process `pid` running (also when it belongs to another user)?"""
    return psutil.pid_exists(pid)


def started(pid: int) -> str:
    """When process `pid` started (seconds since the epoch), to tell a reused pid apart; "?"
    when there is no such process."""
    try:
        return f"{psutil.Process(pid).create_time():.2f}"
    except psutil.Error:
        return "?"
