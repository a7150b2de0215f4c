"""Stack frames as data, and the faulthandler stack dumps of a hung process parsed into them.

A frame is a dict `{"file", "line", "name", "code", "student"}`; `student` is true
for frames in the student's own files (under the work directory), so feedback
can show the student's lines first and hide the grader's.
"""

from __future__ import annotations

import linecache
import os
import re
import traceback

from grader.agent.safeio import read_untrusted

MAX_MESSAGE = 2000

_THREAD = re.compile(r"^(Current thread|Thread) (0x[0-9a-f]+)", re.I)
_FRAME = re.compile(r'^\s+File "(?P<file>.*)", line (?P<line>\d{1,9}) in (?P<name>.*)$')


MAX_FRAMES = 50  # the innermost ones are kept
MAX_TEXT = 300


def _cut(text: str, limit: int = MAX_TEXT) -> str:
    return text if len(text) <= limit else text[:limit] + "..."


def frame(
    filename: str,
    lineno: int | None,
    name: str,
    workdir: str,
    code: str | None = None,
    lookup=linecache.getline,
) -> dict:
    student = bool(workdir) and filename.startswith(workdir.rstrip("/") + "/")
    if code is None and lineno and lookup is not None:
        code = lookup(filename, lineno).strip()
    shown = filename[len(workdir.rstrip("/")) + 1 :] if student else filename
    return {
        "file": _cut(shown),
        "line": lineno,
        "name": _cut(name),
        "code": _cut(code or ""),
        "student": student,
    }


def read_sources(submission: str, limit: int = 4_000_000) -> dict[str, list[str]]:
    """The lines of every `.py` file handed in, by path relative to the submission, read once
    before the run (from the read-only copy): where a stack dump's frames get their source."""
    sources: dict[str, list[str]] = {}
    budget = limit
    for root, dirs, files in os.walk(submission):
        dirs[:] = sorted(d for d in dirs if not os.path.islink(os.path.join(root, d)))[:50]
        for name in sorted(files)[:200]:
            if not name.endswith(".py") or budget <= 0:
                continue
            path = os.path.join(root, name)
            got = read_untrusted(path, min(budget, 1_000_000))
            if got is not None:
                budget -= len(got[0])
                rel = os.path.relpath(path, submission)
                sources[rel] = got[0].decode("utf-8", "replace").splitlines()
    return sources


def _source_lookup(workdir: str, sources: dict[str, list[str]]):
    """A source-line lookup for a privileged reader: only a file name that is exactly the work
    folder plus one of the submission's own files gets a line, from what was read before the
    run; no file is opened and no path resolved (a dump's names are the student's to choose)."""
    prefix = workdir.rstrip("/") + "/"

    def lookup(filename: str, lineno: int) -> str:
        if not filename.startswith(prefix):
            return ""
        lines = sources.get(filename[len(prefix) :])
        return lines[lineno - 1] if lines and 0 < lineno <= len(lines) else ""

    return lookup


def exception_record(exc: BaseException, workdir: str) -> dict:
    """Type, message and frames of an exception raised by (or through) student code."""
    frames = [
        frame(f.filename, f.lineno, f.name, workdir, f.line)
        for f in traceback.extract_tb(exc.__traceback__)
    ][-MAX_FRAMES:]
    if isinstance(exc, SyntaxError) and exc.filename:
        frames.append(
            frame(exc.filename, exc.lineno, "<module>", workdir, (exc.text or "").strip())
        )
    try:
        message = str(exc)
    except Exception:
        message = "<the exception's message could not be shown>"
    if len(message) > MAX_MESSAGE:
        message = message[:MAX_MESSAGE] + f"... ({len(message) - MAX_MESSAGE} more characters)"
    return {"type": _cut(type(exc).__name__, 200), "message": message, "frames": frames}


MAX_DUMP_LINE = 4000


def parse_faulthandler(text: str, workdir: str, sources: dict[str, list[str]]) -> list[dict]:
    """Threads of a faulthandler dump: `[{"thread": "0x...", "current": bool, "frames": [...]}]`.

    faulthandler prints the innermost frame first; frames are returned outermost first,
    like a traceback. A frame is the student's only if its file is one of `sources`."""
    threads: list[dict] = []
    lookup = _source_lookup(workdir, sources)
    prefix = workdir.rstrip("/") + "/"
    for line in text.splitlines():
        if len(line) > MAX_DUMP_LINE or len(threads) > MAX_FRAMES:
            continue
        m = _THREAD.match(line)
        if m:
            threads.append(
                {"thread": m.group(2), "current": m.group(1).startswith("Current"), "frames": []}
            )
            continue
        m = _FRAME.match(line)
        if m and threads and len(threads[-1]["frames"]) < 4 * MAX_FRAMES:
            name = m["file"]
            mine = name.startswith(prefix) and name[len(prefix) :] in sources
            threads[-1]["frames"].insert(
                0, frame(name, int(m["line"]), m["name"], workdir if mine else "", lookup=lookup)
            )
    for t in threads:
        t["frames"] = t["frames"][-MAX_FRAMES:]
    return threads[:MAX_FRAMES]
