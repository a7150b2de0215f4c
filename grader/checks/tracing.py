"""One opcode-level tracer over the student's frames, shared by the checks that need it.

`sys.settrace` with `frame.f_trace_opcodes = True` calls us before every bytecode instruction
of the student's code: every frame whose code is neither the grader's nor an installed
library's (`grader.checks.codeclass`), whatever file name that code claims -- code the student
compiles at run time under another name is traced like the rest of it, so the tracer's cost is
the same for every copy of a loop and tells the code nothing. The grader's and the libraries'
frames are not traced, which keeps the cost down. Checks subscribe with `on_opcode`; a check
that needs only some instructions (the lockset check: writes of globals and items) names them
and is called only in the frames of code that holds one of them; while no subscriber needs
every instruction, only those frames are traced: a function that holds none runs at its plain
speed (and with its plain thread switches: a callback between the read and the write of
`self.n += 1` would make the scheduler lose updates that the untraced code does not lose),
whatever file it claims.

The student's code cannot switch the tracer off: the agent's audit hook refuses it
`sys.settrace`, `sys.setprofile` and every way to a frame (`f_trace`); `intact()` still says
whether our tracer is the one installed, process-wide and for new threads (the student's code
could empty `threading._trace_hook`). `sys.gettrace()` and `threading.gettrace()` answer None
to the student's code while ours is installed.

New threads get our tracer from `_bootstrap_inner` below, not from threading's own bootstrap:
CPython 3.11's `_PyEval_SetTrace` refuses any `sys.settrace` (RuntimeError "Cannot install a
trace function while another trace function is being installed") while one call in any thread
of the process is between its `static int reentrant` flag's set and reset -- which spans the
audit hook, Python code that can hand the GIL to a thread that is starting. threading's
`_sys.settrace(_trace_hook)` then killed that thread before its target ran (a correct
locked_counter lost a worker on a loaded machine). Here a thread installs it before threading's
bootstrap says it started (its starter waits in `start()` meanwhile, so one starter's threads
install one at a time), and retries while threads that other threads start install theirs.
"""

from __future__ import annotations

import os
import sys
import sysconfig
import threading
import time

from grader.checks import codeclass
from grader.checks.standin import stand_in

_callbacks: list = []
_every_callbacks: list = []  # those of `_callbacks` subscribed without `opcodes`
_library_callbacks: list = []  # called in library frames entered from traced frames
_needs: set[int] = set()  # the opcodes the subscribed checks need, unless one needs all of them
_library_needs: set[int] = set()  # ... and those they need besides in library frames only
_every_opcode = False
_traced_code: dict = {}  # code object -> whether its frames are traced (for the subscribers now)
_events = 0
_installed = False
_real_gettrace = REAL_GETTRACE = sys.gettrace  # the interpreter's own (`_hidden` replaces it)
_real_thread_gettrace = threading.gettrace
_real_settrace = sys.settrace  # bound now: the student's code may rebind sys.settrace
_real_sleep = time.sleep  # bound now: the scheduler replaces time.sleep
_GUARD = "Cannot install a trace function while another trace function is being installed"
RETRY_SECONDS = 0.0005  # first wait before installing again (doubled up to RETRY_MAX_SECONDS)
RETRY_MAX_SECONDS = 0.01
_is_student = codeclass.is_student


def _tracer(callbacks: list):
    """A local trace function that calls `callbacks` at every instruction of its frame."""

    def local(frame, event, arg):
        global _events
        if event == "opcode":
            _events += 1
            for cb in callbacks:
                cb(frame)
        return local

    return local


_local = _tracer(_callbacks)  # every subscriber: frames of code that holds an opcode one needs
_local_every = _tracer(_every_callbacks)  # the subscribers that need every opcode: other frames


def _traced(code) -> bool:
    """Whether frames of the library's `code` are traced: all of them, unless the subscribers need
    only some opcodes, and then the frames of code that holds one of them."""
    if _every_opcode:
        return True
    traced = _traced_code.get(code)
    if traced is None:
        ops = code.co_code[::2]
        traced = not (_needs.isdisjoint(ops) and _library_needs.isdisjoint(ops))
        _traced_code[code] = traced
    return traced


def _local_library(frame, event, arg):
    if event == "opcode":
        for cb in _library_callbacks:
            cb(frame)
    return _local_library


_SKIP, _LIBRARY = "skip", "library"  # `_how`'s answers besides a local trace function
_how: dict = {}  # code object -> _local, _local_every, _LIBRARY or _SKIP (for the subscribers now)


def _global(frame, event, arg):
    # Called at every Python call of every thread while a check runs (the grader's own included):
    # one dictionary look-up per call for code seen before.
    if event == "call" and _callbacks:
        code = frame.f_code
        how = _how.get(code)
        if how is None:
            how = _how[code] = _decide(code)
        if how is _SKIP:
            return None
        if how is _LIBRARY:
            if not _entered_from_traced(frame):
                return None
            how = _local_library
        frame.f_trace_opcodes = True
        return how
    return None


def _decide(code):
    """What `_global` does with frames of `code`: trace them, for every subscriber (`_local`:
    the student's code that holds an opcode a subscriber needs, or all of it when none names
    its opcodes) or for those that need every opcode (`_local_every`: the rest of the student's
    code, under a check that needs every opcode); follow them when the student's code calls
    them (`_LIBRARY`: the standard library's, `_followed`); or nothing (`_SKIP`)."""
    if _is_student(code):
        if not _needs or not _needs.isdisjoint(code.co_code[::2]):
            return _local
        return _local_every if _every_opcode else _SKIP
    if _library_callbacks and _followed(code) and _traced(code):  # the cheap test first
        return _LIBRARY
    return _SKIP


def _entered_from_traced(frame) -> bool:
    """Called by the student's code, or by a library function traced so (`_followed`)."""
    back = frame.f_back
    return back is not None and (back.f_trace is _local_library or _is_student(back.f_code))


def _followed(code) -> bool:
    """A library function (under the same opcode filter as the student's code, `_traced`)
    outside the machinery the checks model themselves (threads, locks, queues, processes, event
    loops, imports): a read-modify-write done inside `Counter.update`, called by the student's
    code, is switched and watched like one in the student's own code."""
    name = code.co_filename
    return (
        codeclass.kind(code) == codeclass.LIBRARY
        and name.startswith(_STDLIB)
        and "-packages/" not in name
        and not name.endswith(_UNTRACED_FILES)
        and (name.endswith(_FOLLOWED_FILES) or not any(p in name for p in _UNTRACED_PACKAGES))
    )


# The standard library only (an installed package's Python code is not followed), less what the
# checks model themselves and what holds a raw `_thread` lock while it runs Python code (a switch
# there would leave the next thread blocked on it with the baton: tempfile, _strptime,
# functools' cached_property).
_STDLIB = tuple(
    {norm(sysconfig.get_paths()["stdlib"]) + "/" for norm in (os.path.abspath, os.path.realpath)}
)
_UNTRACED_FILES = tuple(
    f"/{name}.py"
    for name in (
        "threading",
        "queue",
        "_threading_local",
        "weakref",
        "_weakrefset",
        "abc",
        "selectors",
        "socket",
        "subprocess",
        "signal",
        "tempfile",
        "_strptime",
        "functools",
        "_pyio",
    )
)
_UNTRACED_PACKAGES = tuple(
    f"/{pkg}/" for pkg in ("concurrent", "multiprocessing", "asyncio", "importlib", "logging")
)
# ... but asyncio's primitives are followed: they are not thread-safe (Semaphore.release() is
# `self._value += 1` with no lock, a race when threads share one) and hold no lock while they run
# (the lockset also watches attribute writes on their objects: `lockset._kept_library_object`)
FOLLOWED_MODULES = frozenset({"asyncio.locks", "asyncio.queues"})
_FOLLOWED_FILES = tuple("/" + name.replace(".", "/") + ".py" for name in sorted(FOLLOWED_MODULES))


def _hidden(real, module: str, ours):
    """`sys.gettrace`/`threading.gettrace` as the student's code sees them: None for `ours`."""

    def gettrace():
        current = real()
        return None if current is ours else current

    return stand_in(gettrace, module, real.__name__, real.__doc__)


def install_baseline() -> None:
    """The tracer, installed in every request, checked or not (the agent calls this): with no
    check subscribed it traces no opcode, but the student's code sees the same tracing state
    whether a check runs or not."""
    global _installed
    if not _installed:
        _installed = True
        threading.settrace(_THREAD_HOOK)
        _patch_bootstrap()
        install_in_thread()
        sys.gettrace = _hidden(_real_gettrace, "sys", _global)
        threading.gettrace = _hidden(_real_thread_gettrace, "threading", _THREAD_HOOK)


class _NewThreads:
    """threading's hook for new threads while ours is installed: false, so that threading's own
    bootstrap does not call `sys.settrace` (`_bootstrap_inner` below installs `_global`)."""

    __slots__ = ()

    def __bool__(self) -> bool:
        return False

    def __call__(self, frame, event, arg):
        return _global(frame, event, arg)


_THREAD_HOOK = _NewThreads()
_bootstrap_patched = False


def _patch_bootstrap() -> None:
    """Every new thread installs `_global` itself (`install_in_thread`) before threading's
    bootstrap runs, while threading's hook is ours; a hook the student's code set instead is
    left to threading (whose `sys.settrace` the agent's audit hook refuses)."""
    global _bootstrap_patched
    if _bootstrap_patched:
        return
    _bootstrap_patched = True
    real = threading.Thread._bootstrap_inner  # type: ignore[attr-defined]  # private: not in typeshed

    def _bootstrap_inner(self):
        if threading._trace_hook is _THREAD_HOOK:  # private: not in typeshed
            try:
                install_in_thread()
            except BaseException as exc:  # noqa: BLE001 - the thread must still start (below)
                self.run = _failed_run(exc)
        real(self)

    stand_in(_bootstrap_inner, "threading", real.__qualname__, real.__doc__)
    threading.Thread._bootstrap_inner = _bootstrap_inner  # type: ignore[attr-defined]  # private: not in typeshed


def _failed_run(exc: BaseException):
    """A thread's `run` when its tracer could not be installed (a refusal not the guard's: the
    student's own audit hook): it raises that, where threading's own `sys.settrace` would have
    failed -- after `start()` has returned, before the target -- so the thread never runs
    untraced, and `start()` does not wait for good for a thread that never said it started."""

    def run():
        raise exc.with_traceback(None)

    return run


def install_in_thread() -> None:
    """`sys.settrace(_global)` in this thread, tried again while another thread's `sys.settrace`
    is under way (CPython 3.11's process-wide guard, see the module's docstring). Each such call
    ends, and the wait lets its thread have the GIL to end it; only a thread that calls
    `sys.settrace` over and over can hold this one back -- the student's code, each call refused
    and reported as tampering by the audit hook -- and then until the run's time limit."""
    wait = RETRY_SECONDS
    while True:
        try:
            _real_settrace(_global)
            return
        except RuntimeError as exc:
            if type(exc) is not RuntimeError or exc.args != (_GUARD,):  # not the guard's
                raise
        _real_sleep(wait)
        wait = min(2 * wait, RETRY_MAX_SECONDS)


def install(
    workdir: str,
    callback,
    opcodes: frozenset[int] | None = None,
    library=None,
    library_opcodes: frozenset[int] = frozenset(),
) -> None:
    """Subscribe `callback(frame)` to every opcode of student code, in every thread; with
    `opcodes`, the callback needs only those: it sees every opcode of the frames whose code
    holds one of them, and no other frame.
    `library(frame)` (if given) is called at every opcode of the library functions the student's
    code calls, directly or through other library functions (`_entered_from_traced`); under
    `opcodes`, only those whose code holds one of them or of `library_opcodes`."""
    global _every_opcode
    install_baseline()
    if opcodes is None:
        _every_opcode = True
        _every_callbacks.append(callback)
    else:
        _needs.update(opcodes)
    _callbacks.append(callback)
    if library is not None:
        _library_callbacks.append(library)
        _library_needs.update(library_opcodes)
    _traced_code.clear()
    _how.clear()


def hook():
    """Our trace function once installed (every new thread installs it), else None."""
    return _global if _installed else None


def thread_hook():
    """threading's hook for new threads while ours is installed, else None."""
    return _THREAD_HOOK if _installed else None


def intact() -> bool:
    """True while our tracer is still the one installed, in this thread and for new threads."""
    hook = threading._trace_hook  # type: ignore[attr-defined]  # private: not in typeshed
    return _real_gettrace() is _global and hook is _THREAD_HOOK


def tampered() -> bool:
    """Did the student's code take our tracer away (for new threads, or in this one)?"""
    return _installed and not intact()


def events() -> int:
    return _events


def uninstall() -> None:
    sys.settrace(None)
    threading.settrace(None)
