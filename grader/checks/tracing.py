"""One opcode-level tracer over the student's frames, shared by the checks that need it.

`sys.settrace` with `frame.f_trace_opcodes = True` calls us before every
bytecode instruction of the student's own functions (frames whose file lies
under the work directory); the grader's and the standard library's frames are
not traced, which keeps the cost down. Checks subscribe with `on_opcode`.

The tracer notices when student code switches it off (`sys.settrace(None)`,
`threading.settrace(...)`): `intact()` is then false and the checks that rely
on it report that they could not run.
"""

from __future__ import annotations

import sys
import threading

_callbacks: list = []
_workdir = ""
_events = 0
_installed = False


def _local(frame, event, arg):
    global _events
    if event == "opcode":
        _events += 1
        for cb in _callbacks:
            cb(frame)
    return _local


def _global(frame, event, arg):
    if event == "call" and frame.f_code.co_filename.startswith(_workdir):
        frame.f_trace_opcodes = True
        return _local
    return None


def install(workdir: str, callback) -> None:
    """Subscribe `callback(frame)` to every opcode of student code, in every thread."""
    global _workdir, _installed
    _workdir = workdir.rstrip("/") + "/"
    _callbacks.append(callback)
    if not _installed:
        _installed = True
        threading.settrace(_global)
        sys.settrace(_global)


def intact() -> bool:
    """True while our tracer is still the one installed, process-wide and in this thread."""
    return sys.gettrace() is _global and threading.gettrace() is _global


def events() -> int:
    return _events


def uninstall() -> None:
    sys.settrace(None)
    threading.settrace(None)
