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


_tampered = False
_real_settrace = sys.settrace
_real_thread_settrace = threading.settrace


def _guard(real):
    """`sys.settrace`/`threading.settrace` as the student's code sees them: any call by it (even
    in one worker thread, where we could not see the change) marks the checks as tampered."""
    def settrace(func):
        global _tampered
        if sys._getframe(1).f_code.co_filename.startswith(_workdir):
            _tampered = True  # not threading's own bootstrap, which re-installs our tracer
        return real(func)
    settrace.__doc__ = real.__doc__
    return settrace


def install(workdir: str, callback) -> None:
    """Subscribe `callback(frame)` to every opcode of student code, in every thread."""
    global _workdir, _installed
    _workdir = workdir.rstrip("/") + "/"
    _callbacks.append(callback)
    if not _installed:
        _installed = True
        _real_thread_settrace(_global)
        _real_settrace(_global)
        sys.settrace = _guard(_real_settrace)
        threading.settrace = _guard(_real_thread_settrace)


def intact() -> bool:
    """True while our tracer is still the one installed, process-wide and in this thread, and
    the student's code never called settrace."""
    return not _tampered and sys.gettrace() is _global and threading.gettrace() is _global


def tampered() -> bool:
    """Did the student's code call settrace (in any thread)?"""
    return _tampered


def events() -> int:
    return _events


def uninstall() -> None:
    _real_settrace(None)
    _real_thread_settrace(None)
