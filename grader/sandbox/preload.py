"""Which optional libraries a sandbox's warm template imports for an exercise.

The template (`grader.agent.spawn`) always imports the agent, the checks and the standard
library's parallel modules; a library of `OPTIONAL_PRELOAD` (numpy) only where the exercise's
own files -- its skeleton and its tests, whose probes run in the sandbox -- import it: elsewhere
it would cost every container its import and every request a larger process to fork. A
student who imports it anyway gets it all the same, in the request's own process.
"""

from __future__ import annotations

import ast
import functools
from pathlib import Path

from grader.agent.spawn import OPTIONAL_PRELOAD

MAX_SOURCE_BYTES = 1_000_000  # the exercise's files are the instructor's: a bound all the same


def for_exercise(root: Path) -> tuple[str, ...]:
    """The libraries of `OPTIONAL_PRELOAD` imported by the Python files of the exercise at
    `root` (its skeleton and tests), in `OPTIONAL_PRELOAD`'s order."""
    return _imported(Path(root).resolve())


@functools.lru_cache(maxsize=256)
def _imported(root: Path) -> tuple[str, ...]:
    found: set[str] = set()
    for folder in (root / "skeleton", root / "tests"):
        for path in sorted(folder.rglob("*.py")) if folder.is_dir() else []:
            found |= _top_modules(path)
    return tuple(name for name in OPTIONAL_PRELOAD if name in found)


def _top_modules(path: Path) -> set[str]:
    """The top-level names of the modules a file imports (anywhere in it); none if unreadable."""
    try:
        if path.stat().st_size > MAX_SOURCE_BYTES:
            return set()
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    except (OSError, SyntaxError, ValueError, RecursionError, MemoryError):
        return set()
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module.split(".")[0])
    return names
