"""Tracked `threading.Lock` and `threading.RLock`, shared by the checks that need to see locks.

`install(workdir)` (idempotent; called by a check's `start`, before the student's
module is imported) replaces `threading.Lock` and `threading.RLock` with the
tracked classes below. Everything built on them in the standard library
(`Condition`, `Semaphore`, `Event`, `Barrier`, `queue.Queue`...) picks them up
too, because those look the names up in `threading` when they are created.

What the tracked locks keep:
- per thread, the locks it holds, in acquisition order (`held()`: a dict
  `id(lock) -> (lock, site)`), where `site` is `(filename, line, function)` of
  the innermost frame of the student's code that took the lock (recorded only
  when a check asked for sites with `want_sites()`);
- per lock, its owner thread, recursion count and creation site, from which a
  readable name is made (`name`, "lock created at solution.py:7", or `label()`,
  which also finds where the student's code keeps it: "Bank.locks[1]").

Checks subscribe with `add_listener(obj)`; whichever of these methods `obj`
has are called, in the thread that does the locking:
- `on_attempt(lock, site, blocking, timeout, held)` before a thread (maybe) blocks
  on `lock` (`held` is the thread's `held()`; it does not contain `lock` yet,
  unless this is a self-deadlock; re-entering an owned RLock calls nothing);
- `on_acquired(lock, site)` once it holds it;
- `on_released(lock)` when it gives it up (for an RLock: the last release, or
  `Condition.wait` releasing it).
The wrappers are plain Python with `__slots__`; with no listener and no sites
an acquire/release pair costs well under a microsecond on top of the real lock.
"""

from __future__ import annotations

import _thread
import gc
import itertools
import linecache
import os
import sys
import threading
from collections.abc import Callable
from typing import Any, ClassVar

from grader.checks import codeclass

_real_lock = _thread.allocate_lock
_real_rlock = _thread.RLock
_get_ident = _thread.get_ident

_workdir = "/nonexistent/"
_installed = False
_sites = False  # record acquisition sites (a frame walk per acquire)
_on_attempt: list = []
_on_acquired: list = []
_on_released: list = []
_tls = _thread._local()
_blocking = None  # set by the controlled scheduler: how a blocking acquire waits
_serials = itertools.count(1)  # locks created
_acquires = itertools.count(1)  # acquisitions (read with `acquisitions()`)
_per_site: dict = {}  # creation site -> itertools.count: the n-th lock made there
_kind: dict = {}  # code object -> 1 student, 2 other non-library code (probes), 0 library


def install(workdir: str) -> None:
    """Replace threading.Lock/RLock with the tracked versions (once per process)."""
    global _workdir, _installed
    _workdir = workdir.rstrip("/") + "/"
    if not _installed:
        _installed = True
        # the check itself: the tracked classes in place of threading's own factories
        threading.Lock = TrackedLock  # type: ignore[assignment]
        threading.RLock = TrackedRLock  # type: ignore[assignment]


def intact() -> bool:
    """False if the student's code put the real lock factories back."""
    return threading.Lock is TrackedLock and threading.RLock is TrackedRLock


def want_sites() -> None:
    global _sites
    _sites = True


def add_listener(obj) -> None:
    for name, hooks in (
        ("on_attempt", _on_attempt),
        ("on_acquired", _on_acquired),
        ("on_released", _on_released),
    ):
        fn = getattr(obj, name, None)
        if fn is not None:
            hooks.append(fn)


def set_blocking_acquire(wait) -> None:
    """`wait(real_lock, blocking, timeout) -> bool` replaces every blocking acquire of a tracked
    lock (the controlled scheduler waits its own way)."""
    global _blocking
    _blocking = wait


def held() -> dict:
    """The current thread's held locks: {id(lock): (lock, site)}, in acquisition order."""
    try:
        return _tls.held
    except AttributeError:
        h = _tls.held = {}
        return h


def acquisitions() -> int:
    """How many times a tracked lock was acquired so far (all threads)."""
    return int(repr(_acquires)[6:-1]) - 1


def created() -> int:
    return int(repr(_serials)[6:-1]) - 1


# ---------------------------------------------------------------- sites


def _code_kind(code) -> int:
    """1 for the student's code, 2 for a probe's, 0 for everything else (libraries, grader)."""
    kind = _kind.get(code)
    if kind is None:
        kind = codeclass.kind(code)
        kind = _kind[code] = kind if kind in (codeclass.STUDENT, codeclass.PROBE) else 0
    return kind


def _site(f):
    """(filename, line, function) of the innermost student frame from `f` outwards; failing
    that, of the innermost non-library frame (a grader probe); else None."""
    other = None
    while f is not None:
        code = f.f_code
        kind = _kind.get(code)
        if kind is None:
            kind = _code_kind(code)
        if kind == 1:
            return (code.co_filename, f.f_lineno, code.co_name)
        if kind == 2 and other is None:
            other = (code.co_filename, f.f_lineno, code.co_name)
        f = f.f_back
    return other


def site_dict(site) -> dict:
    """A site as the reports show it: file relative to the work dir, line, source text."""
    if site is None:
        return {"file": "?", "line": 0, "code": "", "function": "?"}
    filename, line, function = site
    return {
        "file": filename.removeprefix(_workdir),
        "line": line,
        "code": linecache.getline(filename, line).strip(),
        "function": function,
    }


def _creation():
    """(file, line) where the student's code made this lock, what kind of object it made (a
    Condition, a Queue... when the lock was made inside the standard library), and its number
    among the locks made there."""
    f = sys._getframe(2)
    maker = None
    while f is not None:
        code = f.f_code
        if _code_kind(code):
            break
        maker = code
        f = f.f_back
    if f is None:  # made by library code on its own (a thread's internal Event...)
        f, maker = sys._getframe(2), None
        key = (os.path.basename(f.f_code.co_filename), f.f_lineno)
    else:
        key = (f.f_code.co_filename.removeprefix(_workdir), f.f_lineno)
    counter = _per_site.get(key)
    if counter is None:
        counter = _per_site.setdefault(key, itertools.count(1))
    kind = maker.co_qualname.split(".")[0] if maker is not None else ""
    if kind in ("Lock", "RLock", "TrackedLock", "TrackedRLock"):
        kind = ""
    return key, kind, next(counter)


# ---------------------------------------------------------------- the locks
# The hot paths are written out in full (no helper calls): every acquire of the student's code
# and of everything built on locks (Condition, Queue...) goes through them.


class TrackedLock:
    """threading.Lock that tells the checks who holds it."""

    __slots__ = (
        "_inner",
        "_owner",
        "_count",
        "_held_in",
        "created",
        "kind",
        "index",
        "serial",
        "__weakref__",
    )
    reentrant = False
    _factory: ClassVar[Callable[[], Any]] = staticmethod(_real_lock)

    def __init__(self):
        self._inner = self._factory()
        self._owner = None  # thread ident of the holder
        self._count = 0  # recursion depth (RLock)
        self._held_in = None  # the holder's held() dict
        self.created, self.kind, self.index = _creation()
        self.serial = next(_serials)

    def acquire(self, blocking=True, timeout=-1):
        """A first (not re-entrant) acquisition (one Python call: the tracer, where a check has
        one, sees each)."""
        try:
            h = _tls.held
        except AttributeError:
            h = _tls.held = {}
        if _sites:
            f = sys._getframe(1)  # the caller (TrackedRLock.acquire's: `_site` walks outwards)
            code = f.f_code
            if _kind.get(code) == 1:
                site = (code.co_filename, f.f_lineno, code.co_name)
            else:
                site = _site(f)
        else:
            site = None
        if _on_attempt:
            for cb in _on_attempt:
                cb(self, site, blocking, timeout, h)
        if not (
            self._inner.acquire(blocking, timeout)
            if _blocking is None
            else _blocking(self._inner, blocking, timeout)
        ):
            return False
        h[id(self)] = (self, site)
        self._owner = _get_ident()
        self._count = 1
        self._held_in = h
        next(_acquires)
        if _on_acquired:
            for cb in _on_acquired:
                cb(self, site)
        return True

    __enter__ = acquire

    def release(self):
        # A plain Lock may be released by any thread: the holder's record goes, wherever it is.
        h = self._held_in
        if h is not None:
            h.pop(id(self), None)
            self._owner = self._held_in = None
            self._count = 0
            if _on_released:
                for cb in _on_released:
                    cb(self)
        self._inner.release()

    def __exit__(self, t, v, tb):
        h = self._held_in
        if h is not None:
            h.pop(id(self), None)
            self._owner = self._held_in = None
            self._count = 0
            if _on_released:
                for cb in _on_released:
                    cb(self)
        self._inner.release()

    def _set_held(self, site, count):
        try:
            h = _tls.held
        except AttributeError:
            h = _tls.held = {}
        h[id(self)] = (self, site)
        self._owner = _get_ident()
        self._count = count
        self._held_in = h
        next(_acquires)
        if _on_acquired:
            for cb in _on_acquired:
                cb(self, site)

    def _clear_held(self):
        h = self._held_in
        if h is not None:
            h.pop(id(self), None)
        self._owner = self._held_in = None
        self._count = 0
        if _on_released:
            for cb in _on_released:
                cb(self)

    def locked(self):
        return self._inner.locked()

    def _at_fork_reinit(self):
        self._inner._at_fork_reinit()
        self._owner = self._held_in = None
        self._count = 0

    def __getattr__(self, name):
        if name == "_inner":
            raise AttributeError(name)
        return getattr(self._inner, name)

    @property
    def name(self) -> str:
        """'lock created at solution.py:7' ('lock #2 created at ...' when more were made there)."""
        file, line = self.created
        counter = _per_site.get(self.created)
        many = counter is not None and int(repr(counter)[6:-1]) > 2
        what = f"{self.kind} lock" if self.kind else "lock"
        return f"{what}{f' #{self.index}' if many else ''} created at {file}:{line}"

    def __repr__(self):  # as the real one's: the student's code sees no difference
        state = "locked" if self._inner.locked() else "unlocked"
        if self.reentrant:
            return (
                f"<{state} _thread.RLock object owner={self._owner or 0} count={self._count} "
                f"at {hex(id(self))}>"
            )
        return f"<{state} _thread.lock object at {hex(id(self))}>"


class TrackedRLock(TrackedLock):
    """threading.RLock, tracked; also what Condition needs (_is_owned, _release_save...)."""

    __slots__ = ()
    reentrant = True
    _factory = staticmethod(_real_rlock)

    def acquire(self, blocking=True, timeout=-1):
        if self._owner == _get_ident():  # re-entry never blocks
            self._inner.acquire(blocking, timeout)
            self._count += 1
            return True
        return TrackedLock.acquire(self, blocking, timeout)

    __enter__ = acquire

    def release(self):
        if self._owner != _get_ident():
            self._inner.release()  # raises: "cannot release un-acquired lock"
            return
        if self._count <= 1:
            self._clear_held()
        else:
            self._count -= 1
        self._inner.release()

    def __exit__(self, t, v, tb):
        if self._owner == _get_ident():
            if self._count <= 1:
                self._clear_held()
            else:
                self._count -= 1
        self._inner.release()

    def _is_owned(self):
        return self._inner._is_owned()

    def _release_save(self):
        if self._owner == _get_ident():
            self._clear_held()
        return self._inner._release_save()

    def _acquire_restore(self, state):
        site = _site(sys._getframe(1)) if _sites else None
        if _on_attempt:
            h = held()
            for cb in _on_attempt:
                cb(self, site, True, -1, h)
        if _blocking is None:
            self._inner._acquire_restore(state)
        else:  # the scheduled way: acquire, then re-enter as often as the state says
            _blocking(self._inner, True, -1)
            for _ in range(state[0] - 1 if isinstance(state, tuple) else 0):
                self._inner.acquire()
        self._set_held(site, state[0] if isinstance(state, tuple) else 1)


# ---------------------------------------------------------------- readable names


def _student_module_dicts() -> dict:
    out = {}
    for mod in list(sys.modules.values()):
        if str(getattr(mod, "__file__", "") or "").startswith(_workdir):
            out[id(vars(mod))] = mod
    return out


def _is_student_object(obj) -> bool:
    mod = sys.modules.get(getattr(type(obj), "__module__", ""), None)
    return str(getattr(mod, "__file__", "") or "").startswith(_workdir)


def _is_sync_object(obj) -> bool:
    return getattr(type(obj), "__module__", "") in ("threading", "queue") and not isinstance(
        obj, type
    )


def _key_of(container, obj):
    try:
        if isinstance(container, dict):
            for k, v in list(container.items()):
                if v is obj:
                    return True, k
        else:
            for i, v in enumerate(list(container)):
                if v is obj:
                    return True, i
    except Exception:  # noqa: BLE001 - a container changing under us: no name
        pass
    return False, None


def _path(obj, modules: dict, depth: int) -> str | None:
    """Where the student's code keeps `obj`: 'Bank.locks[1]', 'fork_lock', 'Account.lock'."""
    try:
        referrers = gc.get_referrers(obj)
    except Exception:  # noqa: BLE001
        return None
    found = None
    for ref in referrers:
        if isinstance(ref, dict):
            ok, key = _key_of(ref, obj)
            if not ok:
                continue
            if id(ref) in modules:
                return str(key)  # a global of the student's module
            for owner in gc.get_referrers(ref):
                if not isinstance(owner, (dict, list, tuple, type)) and _is_student_object(owner):
                    try:
                        mine = object.__getattribute__(owner, "__dict__") is ref
                    except Exception:  # noqa: BLE001
                        mine = False
                    if mine:
                        return f"{type(owner).__name__}.{key}"
            if depth < 2 and found is None:
                parent = _path(ref, modules, depth + 1)
                if parent:
                    found = f"{parent}[{key!r}]"
        elif isinstance(ref, (list, tuple)):
            if depth < 2 and found is None:
                ok, i = _key_of(ref, obj)
                parent = _path(ref, modules, depth + 1) if ok else None
                if parent:
                    found = f"{parent}[{i}]"
        elif depth < 2 and found is None and _is_sync_object(ref):
            found = _path(ref, modules, depth + 1)  # the lock of a Condition/Queue kept there
        elif not isinstance(ref, type) and _is_student_object(ref):
            try:
                attrs = object.__getattribute__(ref, "__dict__")
            except Exception:  # noqa: BLE001 - __slots__ object
                attrs = {}
            ok, key = _key_of(attrs, obj)
            if ok:
                return f"{type(ref).__name__}.{key}"
    return found


def label(lock, modules: dict | None = None) -> str:
    """The most readable name for a lock: where the student's code keeps it if found, else its
    creation site. Calls no student code."""
    try:
        path = _path(lock, modules if modules is not None else _student_module_dicts(), 0)
    except Exception:  # noqa: BLE001 - naming is a bonus
        path = None
    return path or lock.name


def labels(lock_list) -> list[str]:
    """Labels for several locks, made distinct (same attribute of two objects: + creation site)."""
    modules = _student_module_dicts()
    names = [label(lk, modules) for lk in lock_list]
    for i, lk in enumerate(lock_list):
        if names.count(names[i]) > 1 and names[i] != lk.name:
            names[i] = f"{names[i]} ({lk.name})"
    return names


def thread_name(ident: int | None = None) -> str:
    """Name of a thread by ident, also during its bootstrap (not yet in threading._active)."""
    ident = _get_ident() if ident is None else ident
    t = threading._active.get(ident)  # type: ignore[attr-defined]  # private: not in typeshed
    if t is None:
        for cand in list(threading._limbo):  # type: ignore[attr-defined]  # private: not in typeshed
            if getattr(cand, "_ident", None) == ident:
                t = cand
                break
    return getattr(t, "name", None) or f"thread {ident}"


# What the student's code sees of the tracked classes: the names of the real ones, so that
# `type(lock).__module__ == "_thread"` cannot tell a checked run from a plain one.
for _cls, _name in ((TrackedLock, "lock"), (TrackedRLock, "RLock")):
    _cls.__module__, _cls.__name__, _cls.__qualname__ = "_thread", _name, _name
del _cls, _name
