"""The interleavings worth showing a student, seen by the controlled scheduler.

A lost update has one shape: a thread is switched out in the middle of a line of its code,
after the line has read shared state (an attribute, an item, a global) and before it writes
it back; another thread then writes that same line's shared state; the first one resumes and
writes what it computed from the old value. `Episodes` watches the turns of the controlled
scheduler (`grader.checks.schedule`) for that shape, judged instruction by instruction from
the bytecode, and keeps the first few, with the threads, the file, the line and its code, so
the feedback can tell the story of the failing run; the seed replays it exactly.
"""

from __future__ import annotations

import dis
import linecache

MAX_EPISODES = 3
READS = frozenset(
    ("LOAD_ATTR", "BINARY_SUBSCR", "LOAD_GLOBAL", "LOAD_DEREF", "LOAD_NAME", "LOAD_CLASSDEREF")
)
WRITES = frozenset(
    ("STORE_ATTR", "STORE_SUBSCR", "STORE_GLOBAL", "STORE_DEREF", "STORE_NAME", "DELETE_SUBSCR")
)


def _layout(code) -> dict[int, tuple[int | None, bool, bool]]:
    """offset -> (line, write: a shared write, between: after a shared read and before or at a
    shared write of the same stretch of the line)."""
    starts = dict(dis.findlinestarts(code))  # offset -> line, where a stretch of a line begins
    stretches: list[tuple[int | None, list]] = []
    line = None
    for ins in dis.get_instructions(code):
        if ins.offset in starts or not stretches:
            line = starts.get(ins.offset, line)
            stretches.append((line, []))
        stretches[-1][1].append(ins)
    out = {}
    for line, instructions in stretches:
        reads = [i.offset for i in instructions if i.opname in READS]
        writes = [i.offset for i in instructions if i.opname in WRITES]
        for ins in instructions:
            between = bool(reads and writes) and reads[0] < ins.offset <= writes[-1]
            out[ins.offset] = (line, ins.opname in WRITES, between)
    return out


class Episodes:
    """Fed by the scheduler under its lock: `step` before each instruction of the baton
    holder, `switched_out` when the holder passes the baton, `resumed` when it gets it back."""

    def __init__(self, workdir: str, name_of):
        self.workdir, self.name_of = workdir, name_of
        self.last: dict[int, tuple | None] = {}  # thread -> (code, line) if its last instruction
        #                                      was a shared write, else None
        self.paused: dict[int, tuple] = {}  # thread -> (code, line) it was switched out inside
        self.overtaken: dict[int, int] = {}  # paused thread -> the first thread to write there
        self.found: list[dict] = []
        self._layouts: dict = {}

    def _where(self, frame) -> tuple[int | None, bool, bool] | None:
        layout = self._layouts.get(frame.f_code)
        if layout is None:
            layout = self._layouts[frame.f_code] = _layout(frame.f_code)
        return layout.get(frame.f_lasti)

    def step(self, me: int, frame) -> None:
        wrote = self.last.get(me)
        if wrote is not None:  # its shared write has run: it overtook whoever paused there
            for other, where in self.paused.items():
                if where == wrote and other != me:
                    self.overtaken.setdefault(other, me)
        code = frame.f_code  # `_where`, written out: `step` runs before every instruction
        layout = self._layouts.get(code)
        if layout is None:
            layout = self._layouts[code] = _layout(code)
        here = layout.get(frame.f_lasti)
        self.last[me] = (code, here[0]) if here and here[1] else None

    def switched_out(self, me: int, frame) -> None:
        here = self._where(frame)
        if here and here[2]:  # read already, not written yet
            self.paused[me] = (frame.f_code, here[0])
            self.overtaken.pop(me, None)

    def resumed(self, me: int, step: int) -> None:
        where = self.paused.pop(me, None)
        other = self.overtaken.pop(me, None)
        if where is None or other is None or len(self.found) >= MAX_EPISODES:
            return
        code, line = where
        self.found.append(
            {
                "step": step,
                "paused": self.name_of(me),
                "ran": self.name_of(other),
                "file": code.co_filename.removeprefix(self.workdir),
                "line": line,
                "code": linecache.getline(code.co_filename, line).strip()[:200],
            }
        )


def describe(episode: dict) -> str:
    """One episode in words a student who just met threads understands."""
    where = f"{episode['file']} line {episode['line']}"
    code = f" (`{episode['code']}`)" if episode.get("code") else ""
    return (
        f"{episode['paused']} read the shared value at {where}{code} and was switched out "
        f"before writing it back; {episode['ran']} then wrote it at that same line; "
        f"{episode['paused']} resumed and wrote the value it had computed from the old "
        f"one, so {episode['ran']}'s update was lost"
    )
