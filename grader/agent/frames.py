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

MAX_MESSAGE = 2000

_THREAD = re.compile(r"^(Current thread|Thread) (0x[0-9a-f]+)", re.I)
_FRAME = re.compile(r'^\s+File "(?P<file>.*)", line (?P<line>\d+) in (?P<name>.*)$')


MAX_FRAMES = 50  # the innermost ones are kept
MAX_TEXT = 300


def _cut(text: str, limit: int = MAX_TEXT) -> str:
    return text if len(text) <= limit else text[:limit] + "..."


def frame(filename: str, lineno: int | None, name: str, workdir: str, code: str | None = None,
          lookup=linecache.getline) -> dict:
    student = bool(workdir) and filename.startswith(workdir.rstrip("/") + "/")
    if code is None and lineno and lookup is not None:
        code = lookup(filename, lineno).strip()
    shown = filename[len(workdir.rstrip("/")) + 1:] if student else filename
    return {"file": _cut(shown), "line": lineno, "name": _cut(name), "code": _cut(code or ""),
            "student": student}


def _safe_lookup(workdir: str):
    """A source-line lookup for a privileged reader: student files only, never blocking."""
    from grader.agent.safeio import read_untrusted

    cache: dict[str, list[str]] = {}
    prefix = workdir.rstrip("/") + "/"

    def lookup(filename: str, lineno: int) -> str:
        real = os.path.realpath(filename)  # "WORK/../../etc/shadow" is not a student file
        if not real.startswith(prefix) or real != os.path.normpath(filename):
            return ""
        if filename not in cache:
            got = read_untrusted(filename, 1_000_000)
            cache[filename] = got[0].decode("utf-8", "replace").splitlines() if got else []
        lines = cache[filename]
        return lines[lineno - 1] if 0 < lineno <= len(lines) else ""
    return lookup


def exception_record(exc: BaseException, workdir: str) -> dict:
    """Type, message and frames of an exception raised by (or through) student code."""
    frames = [frame(f.filename, f.lineno, f.name, workdir, f.line)
              for f in traceback.extract_tb(exc.__traceback__)][-MAX_FRAMES:]
    if isinstance(exc, SyntaxError) and exc.filename:
        frames.append(frame(exc.filename, exc.lineno, "<module>", workdir, (exc.text or "").strip()))
    try:
        message = str(exc)
    except Exception:
        message = "<the exception's message could not be shown>"
    if len(message) > MAX_MESSAGE:
        message = message[:MAX_MESSAGE] + f"... ({len(message) - MAX_MESSAGE} more characters)"
    return {"type": _cut(type(exc).__name__, 200), "message": message, "frames": frames}


def parse_faulthandler(text: str, workdir: str) -> list[dict]:
    """Threads of a faulthandler dump: `[{"thread": "0x...", "current": bool, "frames": [...]}]`.

    faulthandler prints the innermost frame first; frames are returned outermost first,
    like a traceback."""
    threads: list[dict] = []
    lookup = _safe_lookup(workdir)
    for line in text.splitlines():
        m = _THREAD.match(line)
        if m:
            threads.append({"thread": m.group(2), "current": m.group(1).startswith("Current"),
                            "frames": []})
            continue
        m = _FRAME.match(line)
        if m and threads:
            threads[-1]["frames"].insert(0, frame(m["file"], int(m["line"]), m["name"], workdir,
                                                  lookup=lookup))
    for t in threads:
        t["frames"] = t["frames"][-MAX_FRAMES:]
    return threads[:MAX_FRAMES]
