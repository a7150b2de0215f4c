"""What a hidden test's probe may ask of the tracked locks (`grader.checks.locks`).

The agent keeps this module live for the probes (it is in `grader.agent.agent.VISIBLE`, imported
before the grader's modules are hidden); the student's code cannot import it (the audit hook
refuses every import of the grader's modules). It only reads: nothing here changes a lock.
"""

from __future__ import annotations

from grader.checks.locks import held as _held


def holds_a_lock() -> bool:
    """Whether the calling thread holds a tracked lock (any `threading.Lock`/`RLock`) now."""
    return bool(_held())
