"""A controlled scheduler: the student's threads take turns, and a seed alone decides the turns.

Forced switches (`preempt`) make races show, but the operating system still orders the
threads, so a seed replays a failure only with high probability. Under this check
(`checks={"schedule": {"seed": s, "probability": 0.05}}`) exactly one of the student's threads
runs the student's code at a time: it holds the *baton*. Before each bytecode instruction of
the student's code (the shared opcode tracer), the holder passes the baton, with the given
probability, to a thread drawn by one seeded generator. A thread that must wait (a tracked
`Lock`/`RLock` held by another, `Condition.wait` and so `Event`, `Queue`, `Semaphore`,
`Barrier`; `Thread.join`; `time.sleep`) tries without blocking and, while it cannot go on,
gives the baton away and retries when it is given back. The order of every step of the
student's code is then a function of the seed: the same seed replays the same interleaving,
instruction for instruction (`trace` is a digest of it; `steps` counts the instructions;
`interleavings` tells the first switches in the middle of a line that another thread then ran,
the shape of a lost update: `grader.checks.interleaving`).

Also:
- a thread started by the student's code joins the schedule before anyone takes another
  decision, so thread start-up timing cannot change the order;
- when every thread waits and none can go on, that is a deadlock, seen at once: the report (and
  a finding) lists each thread's waiting line, the main thread raises `ScheduledDeadlock` (a
  BaseException, so `except Exception` does not swallow it) and the other threads stay
  blocked, idle; a timed wait (`acquire(timeout=...)`, `wait(timeout)`, `join(timeout)`) times
  out instead, the lowest-numbered one first;
- `time.sleep` only passes the baton (time plays no part in the order).

Threads not started by the student's code (the grader's) are never scheduled. Blocking in
anything else (I/O, a `multiprocessing` queue) holds the baton while it blocks.
"""

from __future__ import annotations

import _thread
import hashlib
import random
import sys
import threading
import time

from grader.checks import findings, locks, tracing
from grader.checks.interleaving import Episodes
from grader.checks.standin import stand_in

_real_sleep = time.sleep
_get_ident = _thread.get_ident
_real_gettrace = tracing.REAL_GETTRACE
JOIN_SCHEDULE_SECONDS = 5.0  # a started thread that reaches neither student code nor a wait


class ScheduledDeadlock(BaseException):
    """Every scheduled thread waits and none can go on."""


class _RawCondition:
    """A condition variable on raw `_thread` locks only: threading's are the ones scheduled."""

    def __init__(self):
        self._lock = _thread.allocate_lock()
        self._waiters: list = []

    def __enter__(self):
        self._lock.acquire()

    def __exit__(self, *exc):
        self._lock.release()

    def wait(self, timeout=None) -> None:
        waiter = _thread.allocate_lock()
        waiter.acquire()
        entry = (_get_ident(), waiter)
        self._waiters.append(entry)
        self._lock.release()
        try:
            got = waiter.acquire(True, -1 if timeout is None else timeout)
        finally:
            self._lock.acquire()
        if not got and entry in self._waiters:
            self._waiters.remove(entry)

    def notify_all(self) -> None:
        for _, waiter in self._waiters:
            waiter.release()
        self._waiters = []

    def notify_thread(self, ident: int) -> None:
        """Wake the thread `ident` only: for a change no other waiter's condition depends on
        (the baton passed to it), so that a switch is one thread woken, not all of them."""
        keep = []
        for entry in self._waiters:
            if entry[0] == ident:
                entry[1].release()
            else:
                keep.append(entry)
        self._waiters = keep


class _Sched:
    name = "schedule"

    def __init__(self, seed: int, probability: float, workdir: str):
        self.seed, self.probability, self.workdir = seed, probability, workdir
        self.rng = random.Random(seed)
        self.cond = _RawCondition()
        self.owner: int | None = None  # ident of the thread holding the baton
        self.order: list[int] = []  # registered threads, in registration order
        # ident -> number in registration order, while the thread lives: idents are reused, and
        # a new thread with a dead one's ident must register afresh
        self.serial: dict[int, int] = {}
        self.registered = 0  # threads registered so far
        self.waiting: dict[int, tuple] = {}  # ident -> (events when it failed, timed, line)
        self.pending = 0  # threads started but not registered yet
        # Releases of locks and waiters, thread ends: a waiting thread is worth waking only
        # once one happened after its last failed try.
        self.events = 0
        self.steps = self.switches = 0
        self.digest = hashlib.sha256(str(seed).encode())
        self.deadlock: list | None = None
        self.timeouts = 0
        self.local = _thread._local()  # .free: this thread waits the plain way for now
        self.abandoned = False  # the student's code switched tracing off: nobody is scheduled
        self.episodes = Episodes(workdir, self._name)  # switches in the middle of a line
        self.cond_lock = self.cond._lock  # `with self.cond` without its Python methods
        self.hook = tracing.hook()  # the tracer, while nobody took it away (`start` sets it)
        self.thread_hook = tracing.thread_hook()  # ... and threading's hook for new threads

    # ------------------------------------------------------------ registration
    def _schedulable(self) -> bool:
        if getattr(self.local, "free", False):
            return False
        t = threading._active.get(_thread.get_ident())  # type: ignore[attr-defined]  # private: not in typeshed
        return t is threading.main_thread() or getattr(t, "_pg_scheduled", False)

    def _register(self, me: int) -> None:
        """Called with `cond` held, by a schedulable thread not yet registered."""
        self.registered += 1
        self.serial[me] = self.registered
        self.order.append(me)
        t = threading._active.get(me)  # type: ignore[attr-defined]  # private: not in typeshed
        if t is not threading.main_thread():
            self.pending -= 1
            _joined(t)
        if self.owner is None:
            self.owner = me
        self.cond.notify_all()
        while self.owner != me and not self.abandoned:
            self.cond.wait()

    def forget(self, me: int, registered: bool) -> None:
        with self.cond:
            self.events += 1
            if tracing.tampered():
                self.abandoned, self.owner = True, None
            if not registered:
                self.pending -= 1
            elif me in self.serial:
                self.order.remove(me)
                del self.serial[me]
                self.waiting.pop(me, None)
                if self.owner == me:
                    self._hand_on(me)
            self.cond.notify_all()

    # ------------------------------------------------------------ turns
    def on_opcode(self, frame) -> None:
        # Before every instruction of the scheduled threads: no Python call on the common path
        # (the holder goes on), `tracing.tampered()` and `with self.cond` written out.
        me = _get_ident()
        if self.deadlock is not None or self.abandoned:
            return
        hook = self.hook
        if (
            hook is None
            or _real_gettrace() is not hook
            or threading._trace_hook is not self.thread_hook  # type: ignore[attr-defined]  # private: not in typeshed
        ):
            self._abandon()
            return
        with self.cond_lock:
            if me not in self.serial:
                if not self._schedulable():
                    return
                self._register(me)
            while self.owner != me and not self.abandoned:
                self.cond.wait()
            while (
                self.pending > 0 and not self.abandoned
            ):  # newcomers join before the next decision
                self.cond.wait()
            if self.abandoned:
                return
            self.steps += 1
            self.episodes.step(me, frame)
            if len(self.order) > 1 and self.rng.random() < self.probability:
                ready = self._ready(None)
                nxt = ready[self.rng.randrange(len(ready))]
                if nxt != me:
                    self.switches += 1
                    self.digest.update(f"{self.steps}>{self.serial[nxt]};".encode())
                    self.episodes.switched_out(me, frame)
                    self.owner = nxt
                    # every wait of this class rechecks its condition under `cond`; only
                    # `nxt`'s can have turned true (owner == nxt; `pending`, `waiting`,
                    # `deadlock` and `abandoned` unchanged)
                    self.cond.notify_thread(nxt)
                    while self.owner != me and not self.abandoned:
                        self.cond.wait()
                    self.episodes.resumed(me, self.steps)

    def _abandon(self) -> None:
        """Tracing was switched off by the student's code, so turns can no longer be taken at
        each instruction: every thread runs free from now on (and the report says the check
        could not run)."""
        with self.cond:
            self.abandoned = True
            self.owner = None
            self.cond.notify_all()

    def _ready(self, me) -> list[int]:
        """Threads that could go on (not waiting, or something changed since they last tried),
        in registration order, `me` left out."""
        return [
            t
            for t in self.order
            if t != me and (t not in self.waiting or self.waiting[t][0] < self.events)
        ]

    def _hand_on(self, me: int) -> None:
        """Give the baton to another thread that could go on (seeded choice), or to nobody."""
        others = self._ready(me)
        self.owner = others[self.rng.randrange(len(others))] if others else None
        self.cond.notify_all()

    def wait_until(self, attempt, timeout=None, frame=None) -> bool:
        """Block the scheduled way until `attempt()` is true (or, for a timed wait, until every
        thread is stuck): returns what the last attempt returned."""
        me = _thread.get_ident()
        if attempt():
            return True
        with self.cond:
            if getattr(self.local, "free", False) or self.abandoned:
                registered = False
            elif me not in self.serial:
                if not self._schedulable() or self.deadlock is not None:
                    registered = False
                else:
                    registered = True
                    self._register(me)
            else:
                registered = True
        if not registered:
            return self._plain_wait(attempt, timeout)
        line = _student_line(frame or sys._getframe(2), self.workdir)
        while True:
            if self.abandoned or tracing.tampered():
                self._abandon()
                return self._plain_wait(attempt, timeout)
            seen = self.events
            if attempt():
                with self.cond:
                    self.waiting.pop(me, None)
                return True
            with self.cond:
                self.waiting[me] = (seen, timeout is not None and timeout >= 0, line)
                if self.deadlock is None and self._all_stuck():
                    timed = sorted((self.serial[t], t) for t, w in self.waiting.items() if w[1])
                    if not timed:
                        self._declare_deadlock()
                    elif timed[0][1] == me:  # virtual time runs out for the first timed waiter
                        self.waiting.pop(me)
                        self.timeouts += 1
                        return False
                if self.deadlock is not None:
                    self._stay_stuck(me, self.deadlock)
                self._hand_on(me)
                # Retry when given the baton back, or take it when nobody holds it and no
                # newly started thread is about to join the schedule.
                while self.owner != me and self.deadlock is None and not self.abandoned:
                    if self.owner is None and self.pending == 0:
                        self.owner = me
                        break
                    self.cond.wait(0.05 if self.owner is None else None)

    def _stay_stuck(self, me: int, deadlock: list) -> None:
        """After a deadlock: the main thread raises (the call ends now, with the evidence);
        the others wait idle, forever, as they would have without the scheduler."""
        if threading._active.get(me) is threading.main_thread():  # type: ignore[attr-defined]  # private: not in typeshed
            lines = "; ".join(
                f"{t['thread']} at "
                + (
                    f"{t['line']['file']} line {t['line']['line']} (`{t['line']['code']}`)"
                    if t["line"]
                    else "?"
                )
                for t in deadlock
            )
            raise ScheduledDeadlock(
                f"every thread is waiting and none can go on ({lines}); "
                f"controlled schedule, seed {self.seed}"
            )
        self.owner = None
        self.cond.notify_all()
        while True:
            self.cond.wait()

    def _plain_wait(self, attempt, timeout) -> bool:
        end = None if timeout is None or timeout < 0 else time.monotonic() + timeout
        pause = 0.0005
        while not attempt():
            if end is not None and time.monotonic() >= end:
                return False
            _real_sleep(pause)
            pause = min(pause * 2, 0.02)
        return True

    def _all_stuck(self) -> bool:
        return (
            self.pending == 0 and len(self.waiting) == len(self.order) > 0 and not self._ready(None)
        )

    def event(self) -> None:
        """A lock or waiter was released, or a thread ended: waiting threads may try again."""
        self.events += 1

    def _declare_deadlock(self) -> None:
        if self.deadlock is None:
            self.deadlock = [
                {"thread": self._name(t), "line": w[2]}
                for t, w in sorted(self.waiting.items(), key=lambda i: self.serial[i[0]])
            ]
            findings.report("schedule-deadlock", threads=self.deadlock, seed=self.seed)
        self.owner = None
        self.cond.notify_all()

    def _name(self, ident: int) -> str:
        t = threading._active.get(ident)  # type: ignore[attr-defined]  # private: not in typeshed
        return str(getattr(t, "name", ident))[:60]

    def on_released(self, lock) -> None:
        self.events += 1

    def stop(self) -> dict:
        return {
            "seed": self.seed,
            "probability": self.probability,
            "steps": self.steps,
            "switches": self.switches,
            "threads": self.registered,
            "trace": self.digest.hexdigest()[:16],
            "deadlock": self.deadlock,
            "timeouts": self.timeouts,
            "intact": tracing.intact(),
            "interleavings": self.episodes.found,
        }


def _joined(thread) -> None:
    """Tell the thread's starter that it has joined the schedule (or ended)."""
    lock = getattr(thread, "_pg_joined", None)
    if lock is not None and lock.locked():
        lock.release()


def _student_line(frame, workdir: str) -> dict | None:
    import linecache

    while frame is not None and not frame.f_code.co_filename.startswith(workdir):
        frame = frame.f_back
    if frame is None:
        return None
    code = frame.f_code
    return {
        "file": code.co_filename.removeprefix(workdir),
        "line": frame.f_lineno,
        "code": linecache.getline(code.co_filename, frame.f_lineno).strip(),
    }


# ---------------------------------------------------------------- the waits, made scheduled
# Installed in every request, checked or not (the agent calls `patch_threading`), so that the
# student's code sees the same threading either way; they schedule only while a check runs.

_S: _Sched | None = None  # the scheduler of this request, if one runs
_patched = False


def _blocking_acquire(inner, blocking, timeout):
    s = _S
    if s is None or not blocking:
        return inner.acquire(blocking, timeout) if blocking else inner.acquire(False)
    return s.wait_until(
        lambda: inner.acquire(False), timeout if timeout >= 0 else None, sys._getframe(2)
    )


class ScheduledRawLock:
    """The waiter lock of `Condition.wait`, waited for the scheduled way while a check runs."""

    __slots__ = ("_inner",)

    def __init__(self):
        self._inner = _thread.allocate_lock()

    def acquire(self, blocking=True, timeout=-1):
        return _blocking_acquire(self._inner, blocking, timeout)

    __enter__ = acquire

    def release(self):
        self._inner.release()
        s = _S
        if s is not None:
            s.event()

    def __exit__(self, *exc):
        self.release()

    def locked(self):
        return self._inner.locked()

    def __getattr__(self, name):  # _at_fork_reinit...
        return getattr(self._inner, name)


def patch_threading() -> None:
    """Thread start, join and end, and `time.sleep`, as the scheduler needs them (once)."""
    global _patched
    if _patched:
        return
    _patched = True
    # the check itself: threading's private lock factory and Thread's methods replaced
    threading._allocate_lock = ScheduledRawLock  # type: ignore[attr-defined]  # private: not in typeshed
    start, join, bootstrap = (
        threading.Thread.start,
        threading.Thread.join,
        threading.Thread._bootstrap_inner,  # type: ignore[attr-defined]  # private: not in typeshed
    )

    def patched_start(self):
        """Start the thread and, keeping the baton, wait until it has joined the schedule (or
        ended): then its start-up, which runs unscheduled, cannot change the order."""
        s = _S
        self._pg_scheduled, self._pg_joined = False, _thread.allocate_lock()
        if s is None or not (s._schedulable() or _thread.get_ident() in s.serial):
            return start(self)
        self._pg_scheduled = True
        self._pg_joined.acquire()
        with s.cond:
            s.pending += 1
        s.local.free = True
        try:
            start(self)
            self._pg_joined.acquire(True, JOIN_SCHEDULE_SECONDS)
        finally:
            s.local.free = False

    def patched_bootstrap(self):
        try:
            bootstrap(self)
        finally:
            self._pg_done = True  # before the thread is really gone: joiners may go on
            s = _S
            if s is not None and getattr(self, "_pg_scheduled", False):
                me = _thread.get_ident()
                registered = me in s.serial
                s.forget(me, registered)
                if not registered:
                    _joined(self)

    def patched_join(self, timeout=None):
        s = _S
        if (
            s is None
            or not getattr(self, "_pg_scheduled", False)
            or self is threading.current_thread()
        ):
            return join(self, timeout)
        if s.wait_until(
            lambda: getattr(self, "_pg_done", False) or not self.is_alive(),
            timeout,
            sys._getframe(1),
        ):
            join(self)  # the thread has finished its Python code: this returns at once

    def patched_sleep(seconds):
        s = _S
        if s is not None:
            me = _thread.get_ident()
            with s.cond:
                if s.owner == me and len(s.order) > 1 and s.deadlock is None and not s.abandoned:
                    s._hand_on(me)
                    while s.owner not in (me, None) and not s.abandoned:
                        s.cond.wait()
                    s.owner = None if s.abandoned else me
                    return
        _real_sleep(seconds)

    for fn, real in ((patched_start, start), (patched_join, join), (patched_bootstrap, bootstrap)):
        stand_in(fn, "threading", real.__qualname__, real.__doc__)
    stand_in(patched_sleep, "time", "sleep", _real_sleep.__doc__)
    threading.Thread.start = patched_start  # type: ignore[method-assign]
    threading.Thread.join = patched_join  # type: ignore[method-assign]
    threading.Thread._bootstrap_inner = patched_bootstrap  # type: ignore[attr-defined]  # private: not in typeshed
    time.sleep = patched_sleep


def start(options: dict, workdir: str) -> _Sched:
    global _S
    s = _Sched(
        int(options.get("seed", 0)),
        float(options.get("probability", 0.05)),
        workdir.rstrip("/") + "/",
    )
    locks.install(workdir)
    patch_threading()
    locks.set_blocking_acquire(_blocking_acquire)
    locks.add_listener(s)  # on_released
    _S = s
    tracing.install(workdir, s.on_opcode, library=s.on_opcode)
    s.hook, s.thread_hook = tracing.hook(), tracing.thread_hook()
    return s
