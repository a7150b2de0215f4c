"""Tamper evidence for what the audit hook cannot see: objects the student's code replaced.

In CPython anything reachable can be rebound: a built-in, a standard-library function, a check's
method. The agent takes a `Snapshot` of what the grader relies on before the student's module
is imported -- the built-ins, the trace and lock machinery of `sys`, `threading` and `_thread`,
the JSON encoder, the checks' classes and objects -- and compares after the call: every entry
rebound, added or removed is positive evidence of tampering (honest solutions have no reason to
touch any of them; `threading.excepthook` and the like, which they may set, are not watched).
The checks are then reported as not intact, and the evidence goes to the instructor.
"""

from __future__ import annotations

import _thread
import builtins
import json
import json.encoder
import os
import sys
import threading

_SYS = (
    "settrace",
    "setprofile",
    "gettrace",
    "getprofile",
    "_getframe",
    "audit",
    "addaudithook",
    "modules",
    "exit",
    "setswitchinterval",
)
_THREADING = (
    "Lock",
    "RLock",
    "Condition",
    "Semaphore",
    "BoundedSemaphore",
    "Event",
    "Barrier",
    "Thread",
    "settrace",
    "setprofile",
    "gettrace",
    "getprofile",
    "_trace_hook",
    "_profile_hook",
    "_active",
    "current_thread",
    "enumerate",
    "main_thread",
)
_THREAD_CLASS = ("start", "join", "run", "_bootstrap", "_bootstrap_inner")
_THREAD_MODULE = ("allocate_lock", "start_new_thread", "LockType", "RLock", "get_ident")
# Environment the grader's tools rely on (Oclgrind's preload, the MPI shim, the OpenCL loader):
# a child started without them would run unwatched.
_ENVIRONMENT = (
    "LD_PRELOAD",
    "OCLGRIND_LOG",
    "OCLGRIND_CHECK_API",
    "OCLGRIND_DATA_RACES",
    "OCLGRIND_UNINITIALIZED",
    "OCL_ICD_VENDORS",
    "OCL_ICD_FILENAMES",
    "PGRADER_STACKS_DIR",
    "PYTHONPATH",
    "PYTHONHOME",
)


def _namespace(obj, names=None) -> dict:
    space = vars(obj)
    keys = names if names is not None else list(space)
    return {k: space.get(k, _MISSING) for k in keys}


def adds_no_import_path(value: str | None, before: str | None) -> bool:
    """Whether PYTHONPATH set to `value` (from `before`) names only folders this process already
    imports from: its sys.path, its working folder, or the old value. Libraries do this to give
    their worker processes the parent's own path (Parallel Python's Server), which lets a child
    import nothing the parent could not; a new folder is what could shadow the grader's code."""
    if value is None:
        return True
    known = {
        os.path.realpath(p or ".")
        for p in [*sys.path, os.getcwd(), *(before or "").split(os.pathsep)]
    }
    return all(os.path.realpath(p or ".") in known for p in value.split(os.pathsep))


class _Missing:
    def __repr__(self):
        return "<missing>"


_MISSING = _Missing()


class Snapshot:
    """Identities of what the grader relies on, to compare after the student's code ran."""

    def __init__(self, checks: list):
        self.parts: dict[str, tuple[object, list | None, dict]] = {}
        self._take("builtins", builtins, None)
        self._take("sys", sys, _SYS)
        self._take("threading", threading, _THREADING)
        self._take("threading.Thread", threading.Thread, _THREAD_CLASS)
        self._take("_thread", _thread, _THREAD_MODULE)
        self._take("json.encoder", json.encoder, None)
        self._take("json.JSONEncoder", json.JSONEncoder, None)
        self.checks = list(checks)
        self.environment = {k: os.environ.get(k) for k in _ENVIRONMENT}
        for check in self.checks:
            cls = type(check)
            self._take(f"{cls.__module__}.{cls.__qualname__}", cls, None)

    def _take(self, label: str, obj, names) -> None:
        self.parts[label] = (obj, names, _namespace(obj, names))

    def changes(self) -> list[str]:
        """What was rebound, added or removed since the snapshot ("sys.settrace replaced"), and
        the checks' methods shadowed on their objects."""
        found: list[str] = []
        for label, (obj, names, before) in self.parts.items():
            now = _namespace(obj, names)
            for key, value in before.items():
                if now.get(key, _MISSING) is not value:
                    found.append(
                        f"{label}.{key} {'removed' if now.get(key, _MISSING) is _MISSING else 'replaced'}"
                    )
            if names is None:
                found += [f"{label}.{k} added" for k in vars(obj) if k not in before]
        found += [
            f"os.environ[{key!r}] changed"
            for key, value in self.environment.items()
            if os.environ.get(key) != value
            and not (key == "PYTHONPATH" and adds_no_import_path(os.environ.get(key), value))
        ]
        for check in self.checks:  # a method set on the object hides the class's own
            cls = type(check)
            for key in getattr(check, "__dict__", {}):
                if callable(getattr(cls, key, None)):
                    found.append(
                        f"the {getattr(check, 'name', cls.__name__)} check's {key}() "
                        "replaced on its object"
                    )
        return found[:50]
