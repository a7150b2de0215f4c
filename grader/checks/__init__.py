"""Checks of parallel behaviour that run inside the agent, around the student's code.

Each check module defines `start(options: dict, workdir: str)` returning an object
with a `name` and a `stop() -> dict` whose report goes into the agent's result.
Checks are started *before* the student's module is imported, so they can wrap
`threading` primitives the student's code will pick up. The cheap part of that wrapping
(tracked locks, `Thread.start`/`join`, the student's classes' `__setattr__`) is installed by
the agent in every request, checked or not, so the student's code cannot tell them apart.
"""

from __future__ import annotations

import importlib

AVAILABLE = ("lockset", "lockorder", "preempt", "schedule", "asyncio", "oclgrind")
# Checks done by a tool wrapped around the whole agent (see grader.agent.wrappers), not inside it.
SUPERVISOR_ONLY = ("sanitizer",)


def start_checks(requested: dict, workdir: str) -> list:
    started = []
    for name, options in requested.items():
        if name in SUPERVISOR_ONLY:
            continue
        if name not in AVAILABLE:
            raise ValueError(f"unknown check {name!r}")
        module = importlib.import_module(
            f"grader.checks.{'asyncio_watch' if name == 'asyncio' else name}"
        )
        started.append(module.start(options or {}, workdir))
    return started
