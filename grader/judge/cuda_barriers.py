"""Where a CUDA kernel's barriers are, not only whether it has one (a static check, any machine).

A shared-memory tree reduction needs `__syncthreads()` (1) after the threads fill the
`__shared__` array and before the tree reads it, and (2) inside the tree's loop, between every
two steps: each step reads partial sums that other threads wrote in the step before. A kernel
with only the first barrier has a race in every step; it often still gives the right sum
(threads of one warp run together), which is why its place is checked, not only its presence.

    gaps = barrier_gaps(kernel_source)   # [] when both barriers are where they belong
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from grader.judge.cuda_compile import code_only

BARRIERS = ("__syncthreads", "__syncwarp", ".sync()", "__barrier_sync")
_SHARED = re.compile(r"__shared__\s+(?:volatile\s+)?[\w\s]*?\b(\w+)\s*\[")
_LOOP = re.compile(r"\b(for|while)\s*\(")


@dataclass
class Gap:
    """A place a barrier is missing: `where` is the 1-based line in the kernel source."""

    kind: str  # "loop" (no barrier inside a loop whose steps share memory) or "load"
    line: int
    code: str
    array: str


def shared_arrays(source: str) -> list[str]:
    return _SHARED.findall(code_only(source))


def _matching(text: str, start: int, open_: str, close: str) -> int:
    """The index just past the bracket that closes the one at `start`."""
    depth = 0
    for i in range(start, len(text)):
        if text[i] == open_:
            depth += 1
        elif text[i] == close:
            depth -= 1
            if depth == 0:
                return i + 1
    return len(text)


def _loops(text: str) -> list[tuple[int, int, int]]:
    """(start of the loop, start of its body, end of its body) for every for/while loop."""
    out = []
    for m in _LOOP.finditer(text):
        head_end = _matching(text, m.end() - 1, "(", ")")
        rest = text[head_end:]
        body_start = head_end + len(rest) - len(rest.lstrip())
        if text.startswith("{", body_start):
            body_end = _matching(text, body_start, "{", "}")
        else:
            semi = text.find(";", body_start)
            body_end = len(text) if semi < 0 else semi + 1
        out.append((m.start(), body_start, body_end))
    return out


def _has_barrier(text: str) -> bool:
    return any(b in text for b in BARRIERS)


def _NEIGHBOUR(array: str) -> re.Pattern:
    """`array` read at an index other threads write: `s[tid + stride]`, `s[i ^ k]`..."""
    return re.compile(rf"\b{re.escape(array)}\s*\[[^\]]*[-+^*/%][^\]]*\]")


def _reads_neighbour(body: str, array: str) -> bool:
    return _NEIGHBOUR(array).search(body) is not None


def barrier_gaps(source: str) -> list[Gap]:
    """Missing barriers of a reduction kernel: a loop whose steps read another thread's element
    of a `__shared__` array with no barrier in its body, and no barrier between the first write
    of that array and such a loop."""
    text = code_only(source)
    lines = source.splitlines()

    def line_of(index: int) -> tuple[int, str]:
        number = text.count("\n", 0, index) + 1
        return number, lines[number - 1].strip() if number <= len(lines) else ""

    gaps = []
    for array in shared_arrays(source):
        loops = [(s, b, e) for s, b, e in _loops(text) if _reads_neighbour(text[b:e], array)]
        first_write = re.search(rf"\b{re.escape(array)}\s*\[[^\]]*\]\s*(?:[-+*/]?=)(?!=)", text)
        for start, body, end in loops:
            if not _has_barrier(text[body:end]):
                gaps.append(Gap("loop", *line_of(start), array))
            read = _NEIGHBOUR(array).search(text[body:end])
            first_read = body + (read.start() if read else 0)  # (every loop kept reads one)
            if (
                first_write
                and first_write.start() < start
                and not _has_barrier(text[first_write.end() : first_read])
            ):
                gaps.append(Gap("load", *line_of(first_write.start()), array))
    unique: dict = {}
    for g in gaps:
        unique.setdefault((g.kind, g.line), g)
    return list(unique.values())
