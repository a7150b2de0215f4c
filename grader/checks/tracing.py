"""One opcode-level tracer over the student's frames, shared by the checks that need it.

`sys.settrace` with `frame.f_trace_opcodes = True` calls us before every bytecode instruction
of the student's code: every frame whose code is neither the grader's nor an installed
library's (`grader.checks.codeclass`), whatever file name that code claims -- code the student
compiles at run time under another name is traced like the rest of it, so the tracer's cost is
the same for every copy of a loop and tells the code nothing. The grader's and the libraries'
frames are not traced, which keeps the cost down. Checks subscribe with `on_opcode`; a check
that needs only some instructions (the lockset check: writes of globals and items) names them,
and while no subscriber needs every instruction, only the frames of code that holds one of them
are traced: a function that holds none runs at its plain speed (and with its plain thread
switches: a callback between the read and the write of `self.n += 1` would make the scheduler
lose updates that the untraced code does not lose), whatever file it claims.

The student's code cannot switch the tracer off: the agent's audit hook refuses it
`sys.settrace`, `sys.setprofile` and every way to a frame (`f_trace`); `intact()` still says
whether our tracer is the one installed, process-wide and for new threads (the student's code
could empty `threading._trace_hook`). `sys.gettrace()` and `threading.gettrace()` answer None
to the student's code while ours is installed.
"""

from __future__ import annotations

import sys
import threading

from grader.checks import codeclass
from grader.checks.standin import stand_in

_callbacks: list = []
_needs: set[int] = set()  # the opcodes the subscribed checks need, unless one needs all of them
_every_opcode = False
_traced_code: dict = {}  # code object -> whether its frames are traced (for the subscribers now)
_events = 0
_installed = False
_real_gettrace = sys.gettrace
_real_thread_gettrace = threading.gettrace
_is_student = codeclass.is_student


def _local(frame, event, arg):
    global _events
    if event == "opcode":
        _events += 1
        for cb in _callbacks:
            cb(frame)
    return _local


def _traced(code) -> bool:
    """Whether frames of `code` are traced: every student frame, unless the subscribers need only
    some opcodes, and then the frames of code that holds one of them."""
    if _every_opcode:
        return True
    traced = _traced_code.get(code)
    if traced is None:
        traced = _traced_code[code] = not _needs.isdisjoint(code.co_code[::2])
    return traced


def _global(frame, event, arg):
    if event == "call" and _callbacks and _is_student(frame.f_code) and _traced(frame.f_code):
        frame.f_trace_opcodes = True
        return _local
    return None


def _hidden(real, module: str):
    """`sys.gettrace`/`threading.gettrace` as the student's code sees them: None for ours."""

    def gettrace():
        current = real()
        return None if current is _global else current

    return stand_in(gettrace, module, real.__name__, real.__doc__)


def install_baseline() -> None:
    """The tracer, installed in every request, checked or not (the agent calls this): with no
    check subscribed it traces no opcode, but the student's code sees the same tracing state
    whether a check runs or not."""
    global _installed
    if not _installed:
        _installed = True
        threading.settrace(_global)
        sys.settrace(_global)
        sys.gettrace = _hidden(_real_gettrace, "sys")
        threading.gettrace = _hidden(_real_thread_gettrace, "threading")


def install(workdir: str, callback, opcodes: frozenset[int] | None = None) -> None:
    """Subscribe `callback(frame)` to every opcode of student code, in every thread; with
    `opcodes`, the callback needs only those (it still sees every opcode of a traced frame)."""
    global _every_opcode
    install_baseline()
    if opcodes is None:
        _every_opcode = True
    else:
        _needs.update(opcodes)
    _traced_code.clear()
    _callbacks.append(callback)


def hook():
    """Our trace function once installed (threading installs it in every new thread), else None."""
    return _global if _installed else None


def intact() -> bool:
    """True while our tracer is still the one installed, in this thread and for new threads."""
    hook = threading._trace_hook  # type: ignore[attr-defined]  # private: not in typeshed
    return _real_gettrace() is _global and hook is _global


def tampered() -> bool:
    """Did the student's code take our tracer away (for new threads, or in this one)?"""
    return _installed and not intact()


def events() -> int:
    return _events


def uninstall() -> None:
    sys.settrace(None)
    threading.settrace(None)
