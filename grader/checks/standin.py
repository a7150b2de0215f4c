"""Wrappers that stand in for a library's function where the student's code can see them.

A stand-in takes the original's name, qualified name, module and docstring, so that whatever
looks a function up by those (pickle passing `time.sleep` to a spawned process by reference,
`help()`, `repr()`) meets the original's identity: an honest program behaves the same with the
checks' wrappers installed as without (`process_lifecycle`'s reference pickled `time.sleep`
for a spawned child, and failed while the wrapper called itself `grader.checks.schedule.sleep`).
"""

from __future__ import annotations


def stand_in(wrapper, module: str, qualname: str, doc: str | None = None):
    """`wrapper`, answering to `module.qualname` (a function or a class); returns it."""
    wrapper.__module__ = module
    wrapper.__qualname__ = qualname
    wrapper.__name__ = qualname.rsplit(".", 1)[-1]
    if doc is not None:
        wrapper.__doc__ = doc
    return wrapper
