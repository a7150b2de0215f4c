"""Lockset race detection (the Eraser algorithm) on the student's shared state.

A data race needs no unlucky schedule to be found: if two threads write the
same attribute or global and no single lock is held at every one of those
writes, the code is racy even when the final value happens to be right.

What is watched:
- attribute writes on instances of classes defined in the student's modules
  (their `__setattr__` is wrapped after import), and
- writes to the student modules' globals (`STORE_GLOBAL`, seen by the shared
  opcode tracer), and
- item writes in the student's code (`x[k] = v`, `x[k] += v`, `del x[k]`, also
  `obj.__dict__[k] = v`) on built-in containers (list, dict and their C subclasses, deque,
  bytearray, numpy arrays), per (container, key), when the container is a simple name or
  attribute chain and the key a name or constant (`self.counts[word] += 1`, `out[i] = r`);
  see `subscripts`; and
- writes made inside the standard library's code the student's code calls (followed by the
  tracer): item writes on containers the student's instances keep (`Counter.update`), and
  attribute writes on asyncio primitives they keep (not thread-safe: `Semaphore.release` is
  `self._value += 1`); see `attributes`.
Which locks are held comes from the tracked `threading.Lock` and `threading.RLock`
of `grader.checks.locks`, installed before the student's code is imported
(`Condition`, `Semaphore`, `Event` and `queue.Queue` build on those, so they are
covered too); this check is one of its listeners and reads each thread's held
locks from it. A semaphore made with the value 1 and used as a mutex (acquired, then released)
is a lock too while it is held (`patch_semaphores`): it lets one thread in at a time, as a
Lock does, though it holds its inner lock only inside acquire() and release().

Per variable, Eraser's states: *exclusive* while one thread writes it (or
while writes are ordered by `Thread.start`/`Thread.join`, so initialising an
object and then handing it to one worker is fine); *shared-modified* once
unordered threads write it, with the candidate lockset narrowed to the locks
held at every write. An empty lockset is a race, reported with the writing
lines and the locks each held.
"""

from __future__ import annotations

import _thread
import dis
import itertools
import operator
import sys
import threading

from grader.checks import attributes, codeclass, locks, subscripts, tracing
from grader.checks.codeclass import STUDENT
from grader.checks.standin import stand_in

STORE_GLOBAL = dis.opmap["STORE_GLOBAL"]
WRITE_OPCODES = frozenset({STORE_GLOBAL} | subscripts.OPCODES)  # what `on_opcode` looks at
MAX_SAMPLES = 6

_real_lock = _thread.allocate_lock
_held_tls = locks._tls  # each thread's held locks, as `locks.held()` keeps them
_sem_tls = _thread._local()  # each thread's held binary semaphores: {id: semaphore}
_first = operator.itemgetter(0)
_serial = operator.attrgetter("serial")
_counter = itertools.count(1)  # logical time of writes, starts and joins


_write_offsets: dict = {}  # code object -> offsets of its instructions in WRITE_OPCODES


def _offsets_of(code, opcodes: frozenset[int]) -> frozenset[int]:
    raw = code.co_code
    return frozenset(i for i in range(0, len(raw), 2) if raw[i] in opcodes)


class _ThreadInfo:
    __slots__ = ("serial", "name", "parent", "started_at", "joined")

    def __init__(self, serial, name, parent=None, started_at=0):
        self.serial, self.name, self.parent, self.started_at = serial, name, parent, started_at
        self.joined: dict[int, int] = {}  # serial of a joined thread -> time of the join


class _Var:
    __slots__ = ("label", "owner", "last_time", "lockset", "samples", "sampled", "reported")

    def __init__(self, label):
        self.label, self.owner, self.last_time = label, None, 0
        self.lockset = None  # None while exclusive
        self.samples: list[dict] = []
        self.sampled: set[str] = set()  # the names of the threads in `samples`
        self.reported = False


class Lockset:
    name = "lockset"

    def __init__(self, workdir: str):
        self.workdir = workdir.rstrip("/") + "/"
        self.mutex = _real_lock()
        self.tls = threading.local()
        self.threads: dict[int, _ThreadInfo] = {}
        self.vars: dict[tuple, _Var] = {}
        self.keep: list = []  # objects watched, kept alive so their ids are not reused
        self.races: list[_Var] = []
        self.writes = 0
        self.writers: set[int] = set()  # serials of the threads that wrote watched state
        # the thread that started the check calls the student's code: its writes are the
        # caller's own, not a worker thread's (work done in the caller is no thread started)
        self.caller = _thread.get_ident()
        self.caller_writes = 0
        self.serials = itertools.count(1)
        # id -> (container, "Class.attr"): containers kept in the student's instances, whose item
        # writes count also when a library function called by the student's code does them
        self.containers: dict[int, tuple] = {}

    # ------------------------------------------------------------ threads
    def me(self) -> _ThreadInfo:
        info = getattr(self.tls, "info", None)
        if info is None:
            # Not threading.current_thread(): during a thread's bootstrap that would register
            # a dummy thread. A thread not yet registered gets a provisional, uncached record.
            t = threading._active.get(_thread.get_ident())  # type: ignore[attr-defined]  # private: not in typeshed
            info = _ThreadInfo(
                next(self.serials),
                getattr(t, "name", "?"),
                getattr(t, "_pg_parent", None),
                getattr(t, "_pg_started_at", 0),
            )
            if t is not None:
                t._pg_serial = info.serial
                self.tls.info = info
                self.threads[info.serial] = info
        return info

    def held(self) -> dict:
        """The current thread's locks, {id(lock): (lock, site)} (kept by grader.checks.locks)."""
        return locks.held()

    def ordered(self, earlier: int, at: int, later: _ThreadInfo) -> bool:
        """Did thread `earlier`'s write at time `at` happen before thread `later`'s current write?"""
        if later.parent == earlier and at < later.started_at:
            return True
        joined = later.joined.get(earlier)
        return joined is not None and at < joined

    # ------------------------------------------------------------ writes
    # The hot path: every attribute write of the student's code in every request of a race-check
    # exercise. While the check runs, the tracer is called at each Python call (and a frame object
    # made for it), so `write` calls no Python function of its own on its common paths.
    def write(self, key, label: str | None, frame) -> None:
        """Record a write of the variable `key` from `frame` (`label` names a variable not seen
        before; None where the caller saw it already)."""
        with self.mutex:
            me = getattr(self.tls, "info", None)
            if me is None:
                me = self.me()
            self.writes += 1
            self.writers.add(me.serial)
            if _thread.get_ident() == self.caller:
                self.caller_writes += 1
            now = next(_counter)
            var = self.vars.get(key)
            if var is None:
                var = self.vars[key] = _Var(label or repr(key))
            if var.lockset is None and (var.owner is None or var.owner == me.serial):
                var.owner = me.serial  # exclusive, as it was: the locks held do not matter
                var.last_time = now
                return
            held = getattr(_held_tls, "held", None)
            if held is None:
                held = self.held()
            # Locks by creation serial, not id(): a lock made per call and dropped gets the
            # same address again and would pass for one consistent lock.
            serials = frozenset(map(_serial, map(_first, list(held.values()))))
            sems = getattr(_sem_tls, "held", None)
            if sems:
                serials |= frozenset(sem._pg_serial for sem in list(sems.values()))
            if var.lockset is None:
                if self.ordered(var.owner, var.last_time, me):
                    var.owner = me.serial
                else:
                    var.lockset = serials
            else:
                var.lockset &= serials
            var.last_time = now
            if (
                var.lockset is not None
                and len(var.samples) < MAX_SAMPLES
                and me.name not in var.sampled
            ):
                self._sample(var, me, held, frame)  # one example write per thread
            if var.lockset == frozenset() and not var.reported:
                var.reported = True
                if len(var.samples) >= MAX_SAMPLES:
                    self._sample(var, me, held, frame)
                self.races.append(var)

    def _sample(self, var: _Var, me: _ThreadInfo, held: dict, frame) -> None:
        code = frame.f_code
        import linecache

        var.sampled.add(me.name)
        var.samples.append(
            {
                "thread": me.name,
                "file": code.co_filename.removeprefix(self.workdir),
                "line": frame.f_lineno,
                "code": linecache.getline(code.co_filename, frame.f_lineno).strip(),
                "locks": sorted(
                    [lock.name for lock, _ in list(held.values())]
                    + [sem._pg_name for sem in list(getattr(_sem_tls, "held", {}).values())]
                ),
            }
        )

    # ------------------------------------------------------------ hooks
    def on_opcode(self, frame) -> None:
        code = frame.f_code
        i = frame.f_lasti
        writes = _write_offsets.get(code)
        if writes is None:
            writes = _write_offsets[code] = _offsets_of(code, WRITE_OPCODES)
        if i not in writes:
            return  # called at every instruction under the forced switches and the scheduler
        op = code.co_code[i]
        if op == STORE_GLOBAL:
            name = code.co_names[code.co_code[i + 1]]
            module = frame.f_globals.get("__name__", "?")
            self.write(("global", id(frame.f_globals), name), f"global {module}.{name}", frame)
        elif op in subscripts.OPCODES:
            target = subscripts.resolve(frame)
            if target is not None:
                key, label, obj = target
                if key not in self.vars:
                    self.keep.append(obj)
                self.write(key, label, frame)

    def on_library_opcode(self, frame) -> None:
        """An item write in a library function the student's code called (`Counter.update`)
        counts when its container is one the student's instances keep; so does an attribute
        write of an object they keep (`Semaphore.release`: `self._value += 1`)."""
        if not self.containers:
            return
        op = frame.f_code.co_code[frame.f_lasti]
        if op in subscripts.OPCODES:
            target = subscripts.resolve(frame)
            if target is not None and target[0][1] in self.containers:
                key, _, obj = target
                where = self.containers[key[1]][1]
                name = frame.f_code.co_qualname
                self.write(key, f"{where}[{subscripts.short(key[2])}] (in {name})", frame)
        elif op == attributes.STORE_ATTR:
            found = attributes.resolve(frame)
            if found is not None and id(found[0]) in self.containers:
                obj, attr = found
                where = self.containers[id(obj)][1]
                name = frame.f_code.co_qualname
                self.write(("attr", id(obj), attr), f"{where}.{attr} (in {name})", frame)

    def stop(self) -> dict:
        return {
            "intact": tracing.intact() and locks.intact(),
            "writes": self.writes,
            "writer_threads": len(self.writers),
            "caller_writes": self.caller_writes,
            "races": [
                {
                    "variable": v.label,
                    "writes": v.samples,
                    "explanation": (
                        f"{v.label} is written by several threads, and no single lock is "
                        "held at every one of those writes: updates can be lost."
                    ),
                }
                for v in self.races
            ],
        }


_CHECK: Lockset | None = None
_getframe = sys._getframe
_kinds = codeclass._kinds  # code object -> kind, filled by `is_student`
# immutable built-in types: no item writes to watch (the wrapper's fast path past `watched`)
_SCALARS = frozenset({int, float, bool, str, bytes, complex, tuple, frozenset, type(None)})
_watched: set = set()  # classes whose __setattr__ is wrapped


def _kept_library_object(value) -> bool:
    """An instance of a Python class of the standard library's that the race checks follow
    (asyncio.Semaphore...): its attribute writes in its own methods are watched."""
    return type(value).__module__ in tracing.FOLLOWED_MODULES


def _watch_class(cls) -> None:
    """Wrap `cls.__setattr__` so that, while a lockset check runs, every attribute write from the
    student's code is recorded. The wrapper is the same in every request, checked or not (the
    agent wraps the student's classes always), so the code cannot tell them apart by it."""
    if cls in _watched:
        return
    original = cls.__setattr__

    def __setattr__(obj, attr, value):
        # the write first, the record after: the record's work (its mutex) inside the window
        # between the read and the write of `self.n += 1` would lose updates the same code does
        # not lose unwatched, and every request of a race-check exercise is watched
        original(obj, attr, value)
        check = _CHECK
        if check is not None:
            frame = _getframe(1)
            code = frame.f_code
            kind = _kinds.get(code)
            if (kind if kind is not None else codeclass.kind(code)) == STUDENT:
                key = ("attr", id(obj), attr)
                label = None
                if key not in check.vars:
                    check.keep.append(obj)
                    label = f"{type(obj).__name__}.{attr}"
                check.write(key, label, frame)
                if type(value) not in _SCALARS and (
                    subscripts.watched(value) or _kept_library_object(value)
                ):
                    check.containers[id(value)] = (value, f"{type(obj).__name__}.{attr}")

    cls.__setattr__ = __setattr__
    _watched.add(cls)


def watch_student_classes(workdir: str) -> None:
    """Wrap the classes defined in the student's modules (called after the import, in every
    request)."""
    prefix = workdir.rstrip("/") + "/"
    for mod in list(sys.modules.values()):
        if str(getattr(mod, "__file__", "") or "").startswith(prefix):
            for value in list(vars(mod).values()):
                if isinstance(value, type) and value.__module__ == mod.__name__:
                    try:
                        _watch_class(value)
                    except TypeError:
                        pass


_threads_patched = False


def patch_threads() -> None:
    """Note who started and joined whom (the order Eraser needs), while a lockset check runs.
    Installed in every request, checked or not, like the tracked locks (the agent calls it):
    `threading.Thread.start` is the same object either way."""
    global _threads_patched
    if _threads_patched:
        return
    _threads_patched = True
    start, join = threading.Thread.start, threading.Thread.join

    def patched_start(self):
        check = _CHECK
        self._pg_parent = check.me().serial if check is not None else None
        self._pg_started_at = next(_counter)
        return start(self)

    def patched_join(self, timeout=None):
        join(self, timeout)
        check = _CHECK
        serial = getattr(self, "_pg_serial", None)
        if check is not None and serial is not None and not self.is_alive():
            check.me().joined[serial] = next(_counter)

    stand_in(patched_start, "threading", "Thread.start", start.__doc__)
    stand_in(patched_join, "threading", "Thread.join", join.__doc__)
    # the check's instrumentation, put in place of the class's own methods
    threading.Thread.start = patched_start  # type: ignore[method-assign]
    threading.Thread.join = patched_join  # type: ignore[method-assign]
    patch_semaphores()


_semaphores_patched = False


def patch_semaphores() -> None:
    """A semaphore made with the value 1 counts as a lock held by the thread that acquired it,
    until it is released (by any thread). One released more often than acquired (its value
    above 1), or with room left once acquired, lets several threads in and counts no more.
    Installed with `patch_threads`."""
    global _semaphores_patched
    if _semaphores_patched:
        return
    _semaphores_patched = True
    sem_cls, bounded_cls = threading.Semaphore, threading.BoundedSemaphore
    init, acquire = sem_cls.__init__, sem_cls.acquire
    releases = {cls: cls.__dict__["release"] for cls in (sem_cls, bounded_cls)}

    def patched_init(self, value=1):
        init(self, value)
        self._pg_held_in = None
        self._pg_binary = value == 1
        if self._pg_binary:
            made = locks.site_dict(locks._site(sys._getframe(1)))
            self._pg_serial = next(locks._serials)
            self._pg_name = f"semaphore created at {made['file']}:{made['line']}"

    def patched_acquire(self, blocking=True, timeout=None):
        got = acquire(self, blocking, timeout)
        if got and getattr(self, "_pg_binary", False):
            if self._value != 0:  # let in with room for more (its value set by hand): no mutex
                self._pg_binary = False
                return got
            try:
                h = _sem_tls.held
            except AttributeError:
                h = _sem_tls.held = {}
            h[id(self)] = self
            self._pg_held_in = h
        return got

    def releasing(release):
        def patched_release(self, n=1):
            h = getattr(self, "_pg_held_in", None)
            if h is not None:
                h.pop(id(self), None)
                self._pg_held_in = None
            release(self, n)
            if self._value > 1:
                self._pg_binary = False

        return patched_release

    stand_in(patched_init, "threading", "Semaphore.__init__", init.__doc__)
    stand_in(patched_acquire, "threading", "Semaphore.acquire", acquire.__doc__)
    sem_cls.__init__ = patched_init  # type: ignore[method-assign]
    sem_cls.acquire = sem_cls.__enter__ = patched_acquire  # type: ignore[method-assign]
    for cls, release in releases.items():
        wrapper = releasing(release)
        stand_in(wrapper, "threading", f"{cls.__name__}.release", release.__doc__)
        cls.release = wrapper  # type: ignore[method-assign]


def start(options: dict, workdir: str) -> Lockset:
    global _CHECK
    _CHECK = check = Lockset(workdir)
    locks.install(workdir)
    locks.add_listener(check)
    patch_threads()
    tracing.install(
        workdir,
        check.on_opcode,
        WRITE_OPCODES,
        library=check.on_library_opcode,
        library_opcodes=frozenset({attributes.STORE_ATTR}),
    )
    return check
