"""Exceptions that killed a student's thread or child process, read from the run's stderr.

Python prints them there and goes on (`threading.excepthook`, multiprocessing's process
bootstrap), so the request still returns a value and the test only sees a wrong answer. The
judge attaches them to the test's evidence (`note`), with each frame marked as the student's
when its file is one of the submission's, so the feedback shows the exception and its line.

stderr is written by the student's process: it is parsed line by line, bounded in the
exceptions, frames and characters kept, and anything that does not parse is left out.
"""

from __future__ import annotations

import re
from pathlib import Path

from grader.judge import evidence
from grader.protocol import Reply

MAX_EXCEPTIONS = 8
MAX_FRAMES = 40
MAX_TEXT = 500
HEADERS = (
    (re.compile(r"Exception in thread (.{1,200}):"), "thread"),
    (re.compile(r"Exception ignored in thread started by: (.{1,200})"), "thread"),
    (re.compile(r"Process (.{1,200}):"), "process"),
)
FRAME = re.compile(r'  File "(.{1,1000})", line (\d{1,9}), in (.{1,200})')
EXCEPTION = re.compile(r"([A-Za-z_][\w.]{0,200})(?::\s?(.*))?")
TRACEBACK = "Traceback (most recent call last):"
INTERLEAVED = 8  # how many lines after a header its traceback may start
CHAINED = ("During handling of the above exception", "The above exception was the direct cause")


def parse(stderr: str, student_files: list[str]) -> list[dict]:
    """The uncaught exceptions printed in `stderr`: kind (thread, process), name, type,
    message and frames (file, line, name, code, student), oldest call first.

    Children that crash at once print to one stderr, their lines interleaved: a header met
    inside a traceback waits its turn (the next traceback is its own), a `Traceback` line in
    the middle of one is another's, and a child whose traceback cannot be read apart is still
    reported (`_unreadable`)."""
    lines = stderr.splitlines()
    found: list[dict] = []
    headers: list[tuple[str, str]] = []  # every header a traceback follows
    pending: list[tuple[str, str]] = []  # headers still waiting for their traceback
    i = 0
    while i < len(lines) and len(found) < MAX_EXCEPTIONS:
        header = _header(lines[i])
        if header is not None and _traceback_follows(lines, i):
            headers.append(header)
            pending.append(header)
            i += 1
            continue
        if pending and (lines[i].startswith(TRACEBACK) or FRAME.fullmatch(lines[i])):
            exc, i, met = _traceback(lines, i, student_files)
            headers += met
            pending += met
            if exc is not None:
                kind, name = pending.pop(0)
                found.append({"kind": kind, "name": name, **exc})
            continue
        i += 1
    return found + _unreadable(headers, found)[: MAX_EXCEPTIONS - len(found)]


def _header(line: str) -> tuple[str, str] | None:
    for pattern, kind in HEADERS:
        if m := pattern.fullmatch(line):
            return kind, m.group(1)[:MAX_TEXT]
    return None


def _traceback_follows(lines: list[str], i: int) -> bool:
    """A `Traceback` line within the few lines after the header at `i`."""
    return any(line.startswith(TRACEBACK) for line in lines[i + 1 : i + 1 + INTERLEAVED])


def _unreadable(headers: list[tuple[str, str]], found: list[dict]) -> list[dict]:
    """One entry for each header whose traceback could not be read (interleaved with another
    child's): the child still died with an exception, whatever it was."""
    missing = list(headers)
    for exc in found:
        if (exc["kind"], exc["name"]) in missing:
            missing.remove((exc["kind"], exc["name"]))
    return [
        {
            "kind": kind,
            "name": name,
            "type": "an exception",
            "frames": [],
            "message": "(its traceback was printed at the same time as another's and could "
            "not be read apart)",
        }
        for kind, name in missing
    ]


def _traceback(
    lines: list[str], i: int, student_files: list[str]
) -> tuple[dict | None, int, list[tuple[str, str]]]:
    """Parse from a `Traceback` (or first frame) line: the last exception of a chain, where
    parsing stopped, and the headers of other children met on the way."""
    frames: list[dict] = []
    met: list[tuple[str, str]] = []
    chained = False
    while i < len(lines):
        line = lines[i]
        if line.startswith(TRACEBACK):
            if chained:  # the next exception of a chain starts afresh
                frames, chained = [], False
            i += 1  # else the start of one, or another child's in the middle of this one
            continue
        if m := FRAME.fullmatch(line):
            code = (
                lines[i + 1].strip()
                if i + 1 < len(lines) and lines[i + 1].startswith("    ")
                else ""
            )
            path = m.group(1)
            mine = _student_file(path, student_files)
            if len(frames) < MAX_FRAMES:
                frames.append(
                    {
                        "file": mine or path[-200:],
                        "line": int(m.group(2)),
                        "name": m.group(3)[:200],
                        "code": code[:MAX_TEXT],
                        "student": mine is not None,
                    }
                )
            i += 2 if code else 1
            continue
        if (header := _header(line)) is not None:
            if len(met) < MAX_EXCEPTIONS:
                met.append(header)
            i += 1
            continue
        if not line.strip() or line.startswith(" ") or line.startswith(CHAINED):
            chained = chained or line.startswith(CHAINED)
            i += 1
            continue
        m = EXCEPTION.fullmatch(line)
        if m is None or not frames:
            return None, i + 1, met
        # the exception line; a later chained traceback replaces it
        exc = {"type": m.group(1)[:200], "message": (m.group(2) or "")[:MAX_TEXT], "frames": frames}
        j = i + 1
        while j < len(lines) and not lines[j].strip():
            j += 1
        if j < len(lines) and lines[j].startswith(CHAINED):
            i = j
            continue
        return exc, i + 1, met
    return None, i, met


def _student_file(path: str, student_files: list[str]) -> str | None:
    """The submission's own name for `path` (a path in the sandbox), or None."""
    posix = path.replace("\\", "/")
    if "/site-packages/" in posix or "/lib/python" in posix:
        return None
    for name in student_files:
        if posix == name or posix.endswith("/" + name):
            return name
    return None


def submission_files(folder: Path | None) -> list[str]:
    """The relative paths of the submission's Python files, longest first."""
    if folder is None or not folder.is_dir():
        return []
    names = [p.relative_to(folder).as_posix() for p in folder.rglob("*.py") if p.is_file()]
    return sorted(names, key=len, reverse=True)


def found(reply: Reply, folder: Path | None) -> list[dict]:
    """The uncaught exceptions of one reply (every MPI rank's stderr), frames of the
    submission in `folder` marked as the student's."""
    outputs = [reply.stderr] + [r.stderr for r in reply.ranks or []]
    texts = [t for t in outputs if "Traceback" in t]
    if not texts:
        return []
    files = submission_files(folder)
    return [exc for text in texts for exc in parse(text, files)][:MAX_EXCEPTIONS]


def note(reply: Reply, folder: Path | None) -> None:
    """Attach the uncaught exceptions of one reply (every MPI rank's) to the current test."""
    exceptions = found(reply, folder)
    if exceptions:
        current = evidence.collected().get("uncaught", [])
        evidence.record_evidence(uncaught=(current + exceptions)[:MAX_EXCEPTIONS])
