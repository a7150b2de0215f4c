"""Watch every asyncio event loop the student's code (or the probe) runs.

Check name "asyncio". Started before the student's module is imported, it patches
a few methods of the standard event loop *classes*, so whatever way a loop is
started (`asyncio.run`, `asyncio.Runner`, `new_event_loop().run_until_complete`,
`get_event_loop().run_forever`) runs watched. No debug mode is switched on: the
measurements are our own and cost about a microsecond per callback.

`stop()` reports:

- `blocking`: callbacks or task steps that held the loop longer than
  `slow_callback` seconds (default 0.05). A sampling watchdog thread records the
  loop thread's stack (`sys._current_frames()`) while a step overruns, so the
  report names the student's line that was running (`time.sleep(0.2)`, a CPU
  loop), the coroutine, the wall time and the loop thread's CPU time during the
  overrun. `kind` says why the step was long: "cpu" (it used CPU time, however
  loaded the machine), "sleep"/"wait" (asleep in a blocking call), or
  "preempted" (runnable but not running: the machine was busy; never held
  against the student). Time spent in garbage collection is not counted. Steps shorter
  than that are added up (`grader.checks.asyncio_blocked`): the time each spent blocked,
  per task or callback and per line of the student's code over all tasks; a sum of
  `slow_callback` or more is listed here too, with kind "slices" and its lines (a
  `time.sleep(0.1)` in four slices with `await asyncio.sleep(0)` between them).
- `never_awaited`: coroutines created and dropped without being awaited
  (CPython calls `warnings._warn_unawaited_coroutine(coro)`; we see the
  coroutine object itself, and coroutine origin tracking at depth 1 says which
  frame created it: depth 1 is nearly free, depth 8 cost about 4 us per
  coroutine).
- `destroyed_pending`: tasks garbage-collected while still pending ("Task was
  destroyed but it is pending!", seen through `call_exception_handler`), with
  the line each was waiting at.
- `cancel_swallowed`: tasks that were cancelled (`task.cancel()`) but finished
  without raising `CancelledError` (they caught it and carried on), with the
  `except` clause that caught it (found statically around each frame of the
  task's await chain at the moment the CancelledError was thrown in). Clauses
  of asyncio's own (TaskGroup, wait_for) are reported with `student: false`.
- `deadlocks`: loops where nothing can ever wake: no callback ready, no timer,
  no file descriptor but the loop's own self-pipe, no signal handler, no
  executor job in flight and no other thread that could call
  `call_soon_threadsafe`, while tasks are pending, for `deadlock_after` seconds
  (default 0.2). These are also written at once with
  `grader.checks.findings.report("asyncio-deadlock", ...)`, because such a run
  hangs until the supervisor kills it. A step that blocks the loop for more
  than `hang_report` seconds (default 1.0) is likewise reported at once as
  "asyncio-blocking".
- `unretrieved_exceptions`: tasks whose exception nobody retrieved.

Everything the hooks do is wrapped so that a failure of the check can never
change what the student's code does.
"""

from __future__ import annotations

import _thread
import ast
import asyncio
import gc
import linecache
import os
import selectors
import sys
import time
import warnings
import weakref
from asyncio import base_events, events
from types import FrameType

from grader.agent.frames import frame as frame_record
from grader.checks import findings
from grader.checks.asyncio_blocked import (
    BlockedSums,
    OtherThreads,
    ThreadClock,
    blocked_seconds,
    open_task_dir,
)

MAX_ENTRIES = 20  # per list in the report
MAX_TASKS_SHOWN = 12  # tasks listed in one deadlock report
MAX_HANG_REPORTS = 5  # "asyncio-blocking" findings per process
MAX_DEADLOCK_REPORTS = 3  # "asyncio-deadlock" findings per loop
OTHERS_FRESH = 0.005  # a look at the student's threads' run_delay before a step, if older

_perf = time.perf_counter
_get_ident = _thread.get_ident

_orig_handle_run = events.Handle._run
_orig_run_forever = base_events.BaseEventLoop.run_forever
_orig_run_in_executor = base_events.BaseEventLoop.run_in_executor
_orig_call_exception_handler = base_events.BaseEventLoop.call_exception_handler
_orig_warn_unawaited = getattr(warnings, "_warn_unawaited_coroutine", None)

_SELECTORS_FILE = selectors.__file__
_ASYNCIO_DIR = os.path.dirname(asyncio.__file__) + os.sep

_Task = asyncio.Task
_BuiltinMethod = type(len)
_StepWrapper = None  # the C task's step callback type, found at start()
_W: AsyncioWatch | None = None
_TASK_DIR = -1  # /proc/self/task, opened by start() before the student's code runs
_TASK_DIR_PID = 0  # the process that opened it


# ---------------------------------------------------------------- per-loop state


class _LoopState:
    """What the loop thread and the watchdog share about one loop (plain attributes: each
    assignment is atomic under the GIL, and the hooks never take a lock)."""

    __slots__ = (
        "loop_ref",
        "thread",
        "cpu_clock",
        "running",
        "serial",
        "started",
        "handle",
        "sample_serial",
        "samples",
        "cpu0",
        "t0",
        "idle_since",
        "idle_serial",
        "deadlock_serial",
        "deadlock_reports",
        "hang_serial",
        "inflight",
        "runs",
        "native",
        "states",
        "clock",
        "reading",
        "__weakref__",
    )

    def __init__(self, loop):
        self.loop_ref = weakref.ref(loop)
        self.thread = 0
        self.cpu_clock = None
        self.running = False
        self.serial = 0  # callbacks started on this loop so far
        self.started = 0.0  # when the running callback started (0: none running)
        self.handle = None
        self.sample_serial = -1  # which callback `samples` belong to
        self.samples: list = []
        self.cpu0 = None
        self.t0 = 0.0
        self.idle_since = None
        self.idle_serial = -1
        self.deadlock_serial = -1
        self.deadlock_reports = 0
        self.hang_serial = -1
        self.inflight = 0  # run_in_executor jobs not finished yet
        self.runs = 0  # run_forever calls (asyncio.run makes three)
        self.native = 0  # the loop thread's kernel id, for /proc/self/task/<id>/stat
        self.states: list = []  # its scheduler state at each sample: R runs or waits for a CPU
        self.clock: ThreadClock | None = None  # the loop thread's run_delay (asyncio_blocked)
        self.reading = None  # the clock's last reading


def _state(loop) -> _LoopState:
    st = loop.__dict__.get("_pg_watch")
    if st is None:
        st = _LoopState(loop)
        loop.__dict__["_pg_watch"] = st
    return st


# ---------------------------------------------------------------- the hooks


def _handle_run(self):
    # The hot path: every callback of every watched loop passes here (about 0.5 us added).
    w = _W
    st = self._loop.__dict__.get("_pg_watch") if w is not None else None
    if st is None:
        return _orig_handle_run(self)
    cb = self._callback
    kind = type(cb)
    if kind is _StepWrapper or kind is _BuiltinMethod:  # a task's step or wakeup
        owner = cb.__self__
        if isinstance(owner, _Task) and owner.cancelling():
            try:
                w.note_delivery(owner)  # a cancelled task's step: CancelledError is thrown in now
            except Exception:  # noqa: BLE001
                pass
    st.serial += 1
    st.handle = self
    gc0 = w.gc_seconds
    modules = len(sys.modules)
    others = w.others
    if others is not None and others.students and _perf() - others.at > OTHERS_FRESH:
        try:
            others.since()  # the student's threads: their wait for a CPU counted from about now
        except Exception:  # noqa: BLE001
            pass
    t0 = _perf()
    st.started = t0
    try:
        _orig_handle_run(self)
    finally:
        dt = _perf() - t0
        st.started = 0.0
        st.handle = None
        if dt >= w.floor:
            dt -= w.gc_seconds - gc0  # a garbage collection is not the step's doing
            try:
                blocked = w.blocked_in(st, dt)
                if dt > w.slow:
                    w.record_slow(st, self, dt, blocked)
                if blocked is not None and blocked < w.slow:  # long only if preempted: added up
                    w.record_short(st, self, blocked, len(sys.modules) != modules)
            except Exception:  # noqa: BLE001 - the check must never break the loop
                pass


def _gc_callback(phase, info):
    w = _W
    if w is not None:
        if phase == "start":
            w.gc_started = _perf()
        elif w.gc_started:
            w.gc_seconds += _perf() - w.gc_started
            w.gc_started = 0.0


def _run_forever(self):
    w = _W
    if w is None:
        return _orig_run_forever(self)
    st = None
    try:
        st = _state(self)
        if st.running:  # already running (the original raises): leave its state alone
            st = None
            return _orig_run_forever(self)
        st.thread = _get_ident()
        st.native = _thread.get_native_id()
        st.clock = w.clock_for(st.native)
        st.reading = st.clock.read() if st.clock is not None else None
        try:
            st.cpu_clock = time.pthread_getcpuclockid(st.thread)
        except (AttributeError, OSError):
            st.cpu_clock = None
        if sys.get_coroutine_origin_tracking_depth() < w.origin_depth:
            sys.set_coroutine_origin_tracking_depth(w.origin_depth)  # per thread
        st.running = True
        st.idle_since = None
        w.running[id(st)] = st
        if st.runs == 0:
            w.loops += 1
        st.runs += 1
        w.ensure_watchdog()
    except Exception:  # noqa: BLE001
        pass
    try:
        return _orig_run_forever(self)
    finally:
        if st is not None:
            st.running = False
            w.running.pop(id(st), None)


def _run_in_executor(self, executor, func, *args):
    fut = _orig_run_in_executor(self, executor, func, *args)
    try:
        st = _state(self)
        st.inflight += 1
        fut.add_done_callback(lambda f, st=st: _executor_done(st))
    except Exception:  # noqa: BLE001
        pass
    return fut


def _executor_done(st):
    st.inflight -= 1


def _call_exception_handler(self, context):
    w = _W
    if w is not None:
        try:
            w.on_exception_context(context)
        except Exception:  # noqa: BLE001
            pass
    return _orig_call_exception_handler(self, context)


def _warn_unawaited(coro):
    w = _W
    if w is not None:
        try:
            w.record_unawaited(coro)
        except Exception:  # noqa: BLE001
            pass
    if _orig_warn_unawaited is not None:
        return _orig_warn_unawaited(coro)
    warnings.warn(f"coroutine '{coro.__qualname__}' was never awaited", RuntimeWarning, 2)


def _task_done(task):
    w = _W
    if w is not None:
        try:
            w.check_cancelled(task)
        except Exception:  # noqa: BLE001
            pass


# ---------------------------------------------------------------- the check


class AsyncioWatch:
    name = "asyncio"

    def __init__(self, options: dict, workdir: str):
        self.workdir = workdir.rstrip("/") + "/"
        self.slow = float(options.get("slow_callback", 0.05))
        self.deadlock_after = float(options.get("deadlock_after", 0.2))
        self.hang_report = float(options.get("hang_report", 1.0))
        self.origin_depth = int(options.get("origin_depth", 1))  # deeper costs ~4 us per coroutine
        self.tick = min(0.01, max(0.002, self.slow / 5))
        # Steps shorter than slow_callback: blocked time of `floor` or more added up per task
        # and line (asyncio_blocked); the watchdog samples any step running `sample_after`.
        self.floor = float(options.get("slice_floor", 0.0005))
        self.sample_after = min(self.slow / 2, 0.001)
        self.sums = BlockedSums(self.slow)
        self.clocks: dict[int, ThreadClock | None] = {}
        self.others: OtherThreads | None = None  # made by clock_for
        self.import_blocked = 0.0
        self.t_start = _perf()
        self.running: dict[int, _LoopState] = {}
        self.loops = 0
        self.blocking: dict[tuple, dict] = {}
        self.slow_steps = 0
        self.unawaited: dict[tuple, dict] = {}
        self.destroyed: list[dict] = []
        self.swallowed: list[dict] = []
        self.unretrieved: list[dict] = []
        self.deadlocks: list[dict] = []
        self.hang_reports = 0
        self.errors: list[str] = []
        self._snapshot: dict[int, dict] = {}
        self.deliveries: dict[int, list] = {}  # id(task) -> its await chain when cancelled
        self.cancelled_tasks: weakref.WeakSet = weakref.WeakSet()
        self.gc_seconds = 0.0
        self.gc_started = 0.0
        self._watchdog_ident: int | None = None
        self._watchdog_pid: int | None = None
        self._stop_lock = _thread.allocate_lock()
        self._stop_lock.acquire()  # released by stop(): the watchdog's signal to exit
        self._exited = _thread.allocate_lock()
        self._start_lock = _thread.allocate_lock()

    # ------------------------------------------------------------ helpers
    def is_student(self, filename: str) -> bool:
        return bool(filename) and filename.startswith(self.workdir)

    def frame(self, filename: str, lineno, name: str) -> dict:
        return frame_record(filename, lineno, name, self.workdir)

    def _innermost(self, f):
        """(filename, line, function, student) of the innermost student frame of a stack, or of
        its innermost frame outside asyncio when no student frame is on it."""
        first = None
        while f is not None:
            code = f.f_code
            if self.is_student(code.co_filename):
                return (code.co_filename, f.f_lineno, code.co_name, True)
            if (
                first is None
                and not code.co_filename.startswith(_ASYNCIO_DIR)
                and code.co_filename != _SELECTORS_FILE
            ):
                first = (code.co_filename, f.f_lineno, code.co_name, False)
            f = f.f_back
        return first

    @staticmethod
    def _task_of(handle):
        cb = getattr(handle, "_callback", None)
        owner = getattr(cb, "__self__", None)
        return owner if isinstance(owner, asyncio.Task) else None

    @staticmethod
    def _coro_name(coro) -> str:
        return getattr(coro, "__qualname__", None) or type(coro).__name__

    def _chain(self, coro):
        """The frames of a suspended coroutine and of what it awaits, outermost first, and the
        innermost awaited object that is not a coroutine (a Future, usually)."""
        frames, obj, last = [], coro, None
        for _ in range(64):
            if obj is None:
                break
            f = (
                getattr(obj, "cr_frame", None)
                or getattr(obj, "gi_frame", None)
                or getattr(obj, "ag_frame", None)
            )
            if f is not None:
                frames.append(f)
            nxt = (
                getattr(obj, "cr_await", None)
                or getattr(obj, "gi_yieldfrom", None)
                or getattr(obj, "ag_await", None)
            )
            if nxt is None and f is None:
                last = obj
            obj = nxt
        return frames, last

    def _waiting_at(self, frames) -> dict | None:
        mine = [f for f in frames if self.is_student(f.f_code.co_filename)]
        f = mine[-1] if mine else (frames[-1] if frames else None)
        if f is None:
            return None
        return self.frame(f.f_code.co_filename, f.f_lineno, f.f_code.co_name)

    def _waiting_for(self, task, frames) -> str:
        """'asyncio.Lock `right` (Lock.acquire)', "task 'Task-3' (worker())", ..."""
        mine = [f for f in frames if self.is_student(f.f_code.co_filename)]
        lib = [f for f in frames if f.f_code.co_filename.startswith(_ASYNCIO_DIR)]
        if lib:
            f = lib[-1]
            qual = getattr(f.f_code, "co_qualname", f.f_code.co_name)
            owner = f.f_locals.get("self")
            if owner is None:
                owner = lib[0].f_locals.get("self")
            label = ""
            if owner is not None and mine:
                for name, value in mine[-1].f_locals.items():
                    if value is owner:
                        label = f" `{name}`"
                        break
            return (
                f"asyncio.{qual}{label}"
                if owner is None
                else f"asyncio.{type(owner).__name__}{label} ({qual})"
            )
        waiter = getattr(task, "_fut_waiter", None)
        if isinstance(waiter, asyncio.Task):
            return f"task {waiter.get_name()!r} ({self._coro_name(waiter.get_coro())})"
        if waiter is not None:
            if type(waiter).__name__ == "_GatheringFuture":
                return "asyncio.gather(...)"
            return "a Future" if frames else "?"
        return "?"

    def _task_record(self, task) -> dict:
        coro = task.get_coro()
        frames, _ = self._chain(coro)
        code = getattr(coro, "cr_code", None) or getattr(coro, "gi_code", None)
        rec = {
            "name": task.get_name(),
            "coro": self._coro_name(coro),
            "waiting_at": self._waiting_at(frames),
            "waiting_for": self._waiting_for(task, frames),
            "student": bool(code and self.is_student(code.co_filename))
            or any(self.is_student(f.f_code.co_filename) for f in frames),
        }
        if code is not None:
            rec["defined"] = self.frame(code.co_filename, code.co_firstlineno, code.co_name)
        origin = getattr(coro, "cr_origin", None) or ()
        created = next(((fn, ln, name) for fn, ln, name in origin if self.is_student(fn)), None)
        rec["created_at"] = self.frame(*created) if created else None
        return rec

    # ------------------------------------------------------------ blocking steps
    def record_slow(self, st: _LoopState, handle, dt: float, blocked: float | None = None) -> None:
        self.slow_steps += 1
        serial = st.serial
        samples = st.samples if st.sample_serial == serial else []
        states = st.states if samples else []
        cpu = cpu_used = None
        if samples and st.cpu0 is not None:
            try:
                cpu_used = time.clock_gettime(st.cpu_clock) - st.cpu0
                span = _perf() - st.t0
                cpu = cpu_used / span if span > 0 else None
            except (OSError, TypeError):
                cpu = cpu_used = None
        # Why was the step long? It computed (it used CPU time, however loaded the machine), or it
        # slept in a blocking call (state S/D), or the machine was busy and the kernel did not
        # let it run (state R without using CPU): the last is nobody's fault in the code.
        runnable = sum(1 for x in states if x == "R")
        if cpu_used is not None and cpu_used >= self.slow / 2:
            kind = "cpu"
        elif cpu_used is not None and states and runnable * 2 > len(states):
            kind = "preempted"
        else:
            kind = "unknown" if cpu is None else "wait"
        if kind != "cpu" and blocked is not None and blocked < self.slow:
            # neither computing nor blocked that long: it (or a thread it waited for) was
            # runnable and the machine did not run it
            kind = "preempted"
        counts: dict = {}
        for s in samples:
            if s is not None:
                counts[s] = counts.get(s, 0) + 1
        student = [s for s in counts if s[3]]
        pool = student or list(counts)
        where = max(pool, key=counts.__getitem__) if pool else None
        task = self._task_of(handle)
        if task is not None:
            coro = task.get_coro()
            coro_name, task_name = self._coro_name(coro), task.get_name()
            code = getattr(coro, "cr_code", None)
        else:
            cb = getattr(handle, "_callback", None)
            coro_name, task_name = getattr(cb, "__qualname__", None) or repr(cb)[:80], None
            code = getattr(cb, "__code__", None)
        coro_student = bool(code and self.is_student(code.co_filename))
        if where is not None:
            key = (where[0], where[1], coro_name, kind == "preempted")
        else:
            key = (None, None, coro_name, kind == "preempted")
        entry = self.blocking.get(key)
        if entry is None:
            if len(self.blocking) >= MAX_ENTRIES:
                return
            loc = self.frame(where[0], where[1], where[2]) if where else None
            if loc and kind in ("wait", "unknown") and "sleep(" in loc["code"]:
                kind = "sleep"
            entry = self.blocking[key] = {
                "coro": coro_name,
                "task": task_name,
                "file": loc["file"] if loc else None,
                "line": loc["line"] if loc else None,
                "code": loc["code"] if loc else "",
                "function": loc["name"] if loc else None,
                "student": (bool(where and where[3]) or coro_student) and kind != "preempted",
                "kind": kind,
                "cpu_ratio": None if cpu is None else round(cpu, 2),
                "cpu_seconds": None if cpu_used is None else round(cpu_used, 4),
                "seconds": 0.0,
                "total_seconds": 0.0,
                "count": 0,
                "sampled": len(samples),
            }
            if code is not None:
                entry["defined"] = self.frame(code.co_filename, code.co_firstlineno, code.co_name)
        entry["count"] += 1
        entry["total_seconds"] = round(entry["total_seconds"] + dt, 4)
        if dt > entry["seconds"]:
            entry["seconds"] = round(dt, 4)

    # ------------------------------------------------------------ blocked in short steps
    def clock_for(self, tid: int) -> ThreadClock | None:
        """The run_delay clock of one of our threads (None where /proc cannot tell)."""
        if tid not in self.clocks:
            try:
                self.clocks[tid] = ThreadClock(_task_dir(), tid)
            except OSError:
                self.clocks[tid] = None
            if self.others is None or self.others.task_dir != _task_dir():
                self.others = OtherThreads(_task_dir())
        return self.clocks[tid]

    def blocked_in(self, st: _LoopState, dt: float) -> float | None:
        """The part of the step just run (`dt` seconds of wall time, GC taken off) that the
        loop thread spent blocked (asyncio_blocked); None where /proc cannot tell."""
        before = st.reading
        st.reading = after = st.clock.read() if st.clock is not None else None
        if before is None or after is None:
            return None
        blocked = blocked_seconds(dt, before, after)
        if blocked >= self.floor and self.others is not None:
            blocked -= self.others.since(exclude=st.native)
        return max(0.0, blocked)

    def record_short(self, st: _LoopState, handle, blocked: float, imported: bool) -> None:
        """Add the time a step spent blocked (less than slow_callback) to its task's and its
        lines' sums (a step that imported a module for the first time is left out: reading
        its files from disk is nobody's blocking call)."""
        if blocked < self.floor:
            return
        if imported:
            self.import_blocked += blocked
            return
        task = self._task_of(handle)
        if task is not None:
            coro = task.get_coro()
            name, code = self._coro_name(coro), getattr(coro, "cr_code", None)
            key: tuple = (id(task), task.get_name())
            about = {"coro": name, "task": task.get_name()}
        else:
            cb = getattr(handle, "_callback", None)
            code = getattr(getattr(cb, "__func__", cb), "__code__", None)
            name = getattr(cb, "__qualname__", None) or repr(cb)[:80]
            key = ("callback", name, code.co_filename if code else None)
            about = {"coro": name, "task": None}
        about["student"] = bool(code and self.is_student(code.co_filename))
        if code is not None:
            about["defined"] = self.frame(code.co_filename, code.co_firstlineno, code.co_name)
        lines, located = self._slice_lines(st, task, code)
        self.sums.add(key, about, blocked, lines, located)

    def _slice_lines(self, st: _LoopState, task, code) -> tuple[list, str]:
        """Where a short step blocked: the watchdog's samples of it (the student's lines if
        any), else the await at which its task stopped (the blocking call ran just before),
        else where its function is defined."""
        counts: dict = {}
        for s in st.samples if st.sample_serial == st.serial else ():
            if s is not None:
                counts[s] = counts.get(s, 0) + 1
        pool = {s: n for s, n in counts.items() if s[3]} or counts
        if pool:
            total = sum(pool.values())
            return [(s, n / total) for s, n in pool.items()], "sampled"
        if task is not None and not task.done():
            frames, _ = self._chain(task.get_coro())
            mine = [f for f in frames if self.is_student(f.f_code.co_filename)]
            f = mine[-1] if mine else (frames[-1] if frames else None)
            if f is not None:
                where = (f.f_code.co_filename, f.f_lineno, f.f_code.co_name, bool(mine))
                return [(where, 1.0)], "await"
        if code is not None:
            where = (
                code.co_filename,
                code.co_firstlineno,
                code.co_name,
                self.is_student(code.co_filename),
            )
            return [(where, 1.0)], "defined"
        return [((None, None, None, False), 1.0)], "unknown"

    # ------------------------------------------------------------ never awaited
    def record_unawaited(self, coro) -> None:
        code = getattr(coro, "cr_code", None)
        origin = getattr(coro, "cr_origin", None) or ()
        created = next(((fn, ln, name) for fn, ln, name in origin if self.is_student(fn)), None)
        if origin and origin[0][0] == "<grader probe>":
            return  # the test's own probe made it and dropped it: not the student's doing
        if created is None and not origin:
            # No origin recorded (another thread): the coroutine is usually dropped by the very
            # statement that made it (`helper()` without await), so the stack now says where.
            f: FrameType | None = sys._getframe(1)
            while f is not None and not self.is_student(f.f_code.co_filename):
                f = f.f_back
            if f is not None:
                created = (f.f_code.co_filename, f.f_lineno, f.f_code.co_name)
        defined_by_student = bool(code and self.is_student(code.co_filename))
        if not defined_by_student and created is None:
            return  # neither the student's coroutine nor created by the student's code
        key = (self._coro_name(coro), created)
        entry = self.unawaited.get(key)
        if entry is None:
            if len(self.unawaited) >= MAX_ENTRIES:
                return
            entry = self.unawaited[key] = {
                "coro": self._coro_name(coro),
                "created_at": self.frame(*created) if created else None,
                "defined": self.frame(code.co_filename, code.co_firstlineno, code.co_name)
                if code is not None
                else None,
                "student": True,
                "count": 0,
            }
        entry["count"] += 1

    # ------------------------------------------------------------ loop exception handler
    def on_exception_context(self, context: dict) -> None:
        message = str(context.get("message", ""))
        if message.startswith("Task was destroyed but it is pending"):
            task = context.get("task")
            if task is not None and len(self.destroyed) < MAX_ENTRIES:
                rec = self._task_record(task)
                before = self._snapshot.get(id(task))
                if rec["waiting_at"] is None and before is not None:
                    # its coroutine was closed first (same garbage cycle): where it waited before
                    rec["waiting_at"], rec["waiting_for"] = (
                        before["waiting_at"],
                        before["waiting_for"],
                    )
                self.destroyed.append(rec)
        elif message.startswith("Task exception was never retrieved"):
            fut = context.get("future")
            exc = context.get("exception")
            if len(self.unretrieved) < MAX_ENTRIES:
                rec = {
                    "exception": type(exc).__name__ if exc else None,
                    "message": str(exc)[:300] if exc else "",
                }
                if isinstance(fut, asyncio.Task):
                    rec.update(name=fut.get_name(), coro=self._coro_name(fut.get_coro()))
                    tb = exc.__traceback__ if exc is not None else None
                    where = None
                    while tb is not None:
                        if self.is_student(tb.tb_frame.f_code.co_filename):
                            where = self.frame(
                                tb.tb_frame.f_code.co_filename,
                                tb.tb_lineno,
                                tb.tb_frame.f_code.co_name,
                            )
                        tb = tb.tb_next
                    rec["raised_at"] = where
                self.unretrieved.append(rec)

    # ------------------------------------------------------------ swallowed cancellation
    def note_delivery(self, task) -> None:
        """A cancelled task is about to get its CancelledError: remember where it waits, and
        watch how it ends (only cancelled tasks get our done callback: it costs a callback)."""
        frames, _ = self._chain(task.get_coro())
        if id(task) not in self.deliveries:
            task.add_done_callback(_task_done)
            self.cancelled_tasks.add(task)
        self.deliveries[id(task)] = [
            (f.f_code.co_filename, f.f_code.co_firstlineno, f.f_lineno, f.f_code.co_name)
            for f in frames
        ]

    def check_cancelled(self, task) -> None:
        self.cancelled_tasks.discard(task)
        chain = self.deliveries.pop(id(task), None)
        cancelling = getattr(task, "cancelling", None)
        if cancelling is None or task.cancelled() or cancelling() <= 0:
            return
        if len(self.swallowed) >= MAX_ENTRIES:
            return
        coro = task.get_coro()
        code = getattr(coro, "cr_code", None)
        exc = getattr(task, "_exception", None)  # not task.exception(): that marks it retrieved
        catcher = self._catcher(chain or [])
        if catcher is not None:
            caught_at, student = self.frame(*catcher[:3]), self.is_student(catcher[0])
        else:  # the CancelledError was not caught by an except clause we can see
            caught_at = None
            student = chain is None and bool(code and self.is_student(code.co_filename))
        self.swallowed.append(
            {
                "name": task.get_name(),
                "coro": self._coro_name(coro),
                "outcome": "returned" if exc is None else f"raised {type(exc).__name__}",
                "student": student,
                "caught_at": caught_at,
                "defined": self.frame(code.co_filename, code.co_firstlineno, code.co_name)
                if code is not None
                else None,
            }
        )

    def _catcher(self, chain) -> tuple | None:
        """(file, line, function) of the `except` clause that caught the CancelledError thrown
        into this await chain: statically, the clauses whose `try` encloses each frame's
        current line. A student's clause that does not raise again is the likely culprit; a
        clause of asyncio's own (TaskGroup, wait_for) means the library swallowed it."""
        found = []
        for filename, first, lineno, name in reversed(chain):  # innermost frame first
            for handler_line, reraises in _handlers_around(filename, first, lineno):
                found.append((filename, handler_line, name, reraises))
        for filename, line, name, reraises in found:
            if self.is_student(filename) and not reraises:
                return filename, line, name
        for filename, line, name, reraises in found:
            if not reraises:
                return filename, line, name
        return found[0][:3] if found else None

    # ------------------------------------------------------------ the watchdog
    def ensure_watchdog(self) -> None:
        if self._watchdog_pid == os.getpid():
            return
        with self._start_lock:
            if self._watchdog_pid == os.getpid():
                return
            self._watchdog_pid = os.getpid()
            # A raw thread: not in threading.enumerate(), not traced, not one of the student's.
            _thread.start_new_thread(self._watch, ())

    def _watch(self) -> None:
        self._watchdog_ident = _get_ident()
        if self.others is not None:
            self.others.ignore.add(str(_thread.get_native_id()))
        self._exited.acquire()
        try:
            while True:
                wait = self.tick if self.running else 0.1
                if self._stop_lock.acquire(timeout=wait):
                    return
                now = _perf()
                for st in list(self.running.values()):
                    try:
                        self._inspect(st, now)
                    except Exception as exc:  # noqa: BLE001
                        if len(self.errors) < 5:
                            self.errors.append(repr(exc)[:200])
        finally:
            self._exited.release()

    def _inspect(self, st: _LoopState, now: float) -> None:
        started = st.started
        if started:
            st.idle_since = None
            elapsed = now - started
            if elapsed < self.sample_after:
                return
            serial = st.serial
            f = sys._current_frames().get(st.thread)
            if f is None or st.serial != serial or st.started != started:
                return
            where = self._innermost(f)
            del f
            if st.sample_serial != serial:
                st.samples = []
                st.states = []
                st.t0 = _perf()
                try:
                    st.cpu0 = time.clock_gettime(st.cpu_clock) if st.cpu_clock is not None else None
                except OSError:
                    st.cpu0 = None
                st.sample_serial = serial
            if len(st.samples) < 500:
                st.samples.append(where)
                st.states.append(_sched_state(st.native))
            if (
                elapsed > self.hang_report
                and st.hang_serial != serial
                and self.hang_reports < MAX_HANG_REPORTS
            ):
                st.hang_serial = serial
                self.hang_reports += 1
                self._report_hang(st, elapsed)
            return
        if not st.running:
            return
        if not self._idle(st):
            st.idle_since = None
            return
        if st.idle_since is None or st.idle_serial != st.serial:
            st.idle_since, st.idle_serial = now, st.serial
            return
        if now - st.idle_since < self.deadlock_after or st.deadlock_serial == st.serial:
            return
        if st.deadlock_reports >= MAX_DEADLOCK_REPORTS:
            return
        self._confirm_deadlock(st, now)

    def _idle(self, st: _LoopState) -> bool:
        """Nothing queued, scheduled or watched on this loop (a cheap look; `_confirm_deadlock`
        checks the rest)."""
        loop = st.loop_ref()
        if loop is None or st.inflight > 0:
            return False
        if loop._ready:
            return False
        for h in list(loop._scheduled):
            if not h._cancelled:
                return False
        if getattr(loop, "_signal_handlers", None):
            return False
        selector = getattr(loop, "_selector", None)
        if selector is None:
            return False
        ssock = getattr(loop, "_ssock", None)
        own = ssock.fileno() if ssock is not None else -1
        for fd in list(selector.get_map()):
            if fd != own:
                return False
        return True

    def _confirm_deadlock(self, st: _LoopState, now: float) -> None:
        loop = st.loop_ref()
        if loop is None or not loop.is_running() or loop.is_closed():
            return
        frames = sys._current_frames()
        f = frames.get(st.thread)
        # The loop thread must be asleep in the selector, waiting for an event that never comes.
        if f is None or f.f_code.co_name != "select" or f.f_code.co_filename != _SELECTORS_FILE:
            return
        if any(
            ident not in (st.thread, self._watchdog_ident) and not _inert(other)
            for ident, other in frames.items()
        ):
            return  # another thread could still call loop.call_soon_threadsafe(...)
        del frames, f  # no thread's frames kept alive from here on
        try:
            import signal

            if any(
                signal.getitimer(w)[0] > 0
                for w in (signal.ITIMER_REAL, signal.ITIMER_VIRTUAL, signal.ITIMER_PROF)
            ):
                return  # a timer signal could still arrive and run a handler
        except (ImportError, AttributeError, OSError):
            pass
        pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
        if not pending or not self._idle(st) or st.started:
            return
        st.deadlock_serial = st.serial
        st.deadlock_reports += 1
        records = [self._task_record(t) for t in pending]
        records.sort(key=lambda r: (not r["student"], r["name"]))
        data = {
            "tasks": records[:MAX_TASKS_SHOWN],
            "pending": len(pending),
            "idle_seconds": round(now - st.idle_since, 3),
            "after_seconds": round(now - self.t_start, 3),
        }
        self.deadlocks.append(data)
        findings.report("asyncio-deadlock", **data)

    def _report_hang(self, st: _LoopState, elapsed: float) -> None:
        counts: dict = {}
        for s in st.samples:
            if s is not None:
                counts[s] = counts.get(s, 0) + 1
        student = [s for s in counts if s[3]]
        pool = student or list(counts)
        where = max(pool, key=counts.__getitem__) if pool else None
        handle = st.handle
        task = self._task_of(handle) if handle is not None else None
        cpu = None
        try:
            if st.cpu0 is not None:
                span = _perf() - st.t0
                cpu = (
                    round((time.clock_gettime(st.cpu_clock) - st.cpu0) / span, 2) if span else None
                )
        except (OSError, TypeError):
            pass
        findings.report(
            "asyncio-blocking",
            coro=self._coro_name(task.get_coro()) if task is not None else None,
            task=task.get_name() if task is not None else None,
            where=self.frame(*where[:3]) if where else None,
            seconds=round(elapsed, 3),
            cpu_ratio=cpu,
        )

    # ------------------------------------------------------------ the report
    def stop(self) -> dict:
        global _W
        try:
            # Where each pending task waits, before the collection below closes their coroutines.
            self._snapshot = {
                id(t): self._task_record(t)
                for t in list(asyncio.tasks._all_tasks)  # type: ignore[attr-defined]  # private: not in typeshed
                if not t.done()
            }
        except Exception:  # noqa: BLE001
            pass
        try:
            gc.collect()  # coroutines never awaited and tasks dropped while pending show up now
        except Exception:  # noqa: BLE001
            pass
        for task in list(self.cancelled_tasks):
            try:
                if task.done():
                    self.check_cancelled(task)  # done, but its callbacks never ran
            except Exception:  # noqa: BLE001
                pass
        intact = (
            events.Handle._run is _handle_run
            and base_events.BaseEventLoop.run_forever is _run_forever
            and getattr(warnings, "_warn_unawaited_coroutine", None) is _warn_unawaited
        )
        if self._watchdog_pid == os.getpid():
            self._stop_lock.release()
            self._exited.acquire(timeout=1.0)
        _W = None
        try:
            gc.callbacks.remove(_gc_callback)
        except ValueError:
            pass
        clocks_intact = True
        for clock in self.clocks.values():
            if clock is not None:
                clocks_intact = clocks_intact and clock.intact()
                clock.close()
        slices = self.sums.report(self.frame)
        report = {
            "intact": intact and clocks_intact,
            "slow_callback": self.slow,
            "loops": self.loops,
            "slow_steps": self.slow_steps,
            "gc_seconds": round(self.gc_seconds, 3),
            "blocked_in_imports": round(self.import_blocked, 3),
            "blocking": sorted([*self.blocking.values(), *slices], key=lambda e: -e["seconds"]),
            "never_awaited": list(self.unawaited.values()),
            "destroyed_pending": self.destroyed,
            "cancel_swallowed": self.swallowed,
            "deadlocks": self.deadlocks,
            "unretrieved_exceptions": self.unretrieved,
        }
        if self.errors:
            report["errors"] = self.errors
        return report


_TREES: dict = {}


def _handlers_around(filename: str, first: int, lineno: int) -> list[tuple[int, bool]]:
    """The `except` clauses (line, contains a raise) that would catch a CancelledError raised at
    `lineno` of the function starting at `first` in `filename`, innermost first; also
    `with contextlib.suppress(CancelledError)` blocks."""
    tree: ast.Module | bool | None = _TREES.get(filename)
    if tree is None:
        try:
            tree = ast.parse("".join(linecache.getlines(filename)))
        except (SyntaxError, ValueError):
            tree = False
        _TREES[filename] = tree
    if not isinstance(tree, ast.Module):  # False: the file could not be parsed
        return []
    func: ast.AsyncFunctionDef | ast.FunctionDef | None = None
    for node in ast.walk(tree):
        if isinstance(node, (ast.AsyncFunctionDef, ast.FunctionDef)) and (
            node.lineno == first or (node.decorator_list and node.decorator_list[0].lineno == first)
        ):
            func = node
            break
    if func is None:
        return []
    out = []
    for node in ast.walk(func):
        if isinstance(node, ast.Try | ast.TryStar) and node.body:
            if node.body[0].lineno <= lineno <= (node.body[-1].end_lineno or 0):
                for h in node.handlers:
                    if _catches_cancel(h.type):
                        out.append(
                            (
                                node.lineno,
                                h.lineno,
                                any(isinstance(n, ast.Raise) for n in ast.walk(h)),
                            )
                        )
        elif isinstance(node, (ast.With, ast.AsyncWith)) and node.body:
            if node.body[0].lineno <= lineno <= (node.body[-1].end_lineno or 0):
                for item in node.items:
                    call = item.context_expr
                    if (
                        isinstance(call, ast.Call)
                        and _name_of(call.func) == "suppress"
                        and any(_catches_cancel(a) for a in call.args)
                    ):
                        out.append((node.lineno, node.lineno, False))
    out.sort(key=lambda t: -t[0])  # the innermost try (latest start) first
    return [(line, reraises) for _, line, reraises in out]


def _name_of(node) -> str:
    return node.attr if isinstance(node, ast.Attribute) else getattr(node, "id", "")


def _catches_cancel(node) -> bool:
    """Does an `except` clause's type catch CancelledError (bare, BaseException, CancelledError)?"""
    if node is None:
        return True
    names = [node] if not isinstance(node, ast.Tuple) else list(node.elts)
    for n in names:
        name = n.attr if isinstance(n, ast.Attribute) else getattr(n, "id", "")
        if name in ("CancelledError", "BaseException"):
            return True
    return False


def _inert(f) -> bool:
    """A thread that cannot wake an event loop by itself: an idle thread-pool worker waiting
    for work, or a thread blocked without a timeout in `Condition.wait` (under `Event.wait`,
    `queue.Queue.get`, `Future.result`...) or in `Thread.join`. Only if every other thread is
    like that (and the loop is idle) is nothing left that could ever make progress."""
    code = f.f_code
    name, filename = code.co_name, code.co_filename
    if name == "_worker" and filename.endswith(os.path.join("concurrent", "futures", "thread.py")):
        return True
    if filename.endswith(os.sep + "threading.py"):
        if name == "wait":
            return f.f_locals.get("timeout", 0) is None
        if name == "_wait_for_tstate_lock":
            local = f.f_locals
            return bool(local.get("block", False)) and (local.get("timeout", 0) or 0) < 0
    return False


def _sched_state(tid: int) -> str:
    """The scheduler state of one of our threads: R (running, or ready and waiting for a CPU),
    S (asleep: a blocking call, or waiting for the GIL), D (disk wait)..., '?' if unknown."""
    try:
        fd = os.open(f"/proc/self/task/{tid}/stat", os.O_RDONLY)
        try:
            data = os.read(fd, 512)
        finally:
            os.close(fd)
        return chr(data[data.rfind(b")") + 2])
    except (OSError, IndexError, ValueError):
        return "?"


def _task_dir() -> int:
    """This process's /proc/self/task descriptor (opened anew in a forked child)."""
    global _TASK_DIR, _TASK_DIR_PID
    if _TASK_DIR_PID != os.getpid():
        _TASK_DIR, _TASK_DIR_PID = open_task_dir(), os.getpid()
    return _TASK_DIR


def _reset_after_fork() -> None:
    if _W is not None:
        _W.clocks = {}  # the parent's threads
        _W.others = None
        _W.running.clear()
        _W._watchdog_pid = None
        _W._stop_lock = _thread.allocate_lock()
        _W._stop_lock.acquire()
        _W._exited = _thread.allocate_lock()


def _step_wrapper_type():
    """The type of the callback a C task schedules for its steps (TaskStepMethWrapper)."""
    loop = asyncio.new_event_loop()
    try:

        async def nothing():
            pass

        task = loop.create_task(nothing(), name="pgrader-probe")  # named: Task-N stays unused
        kind = type(loop._ready[0]._callback)
        loop.run_until_complete(task)
        return kind
    except Exception:  # noqa: BLE001
        return _BuiltinMethod
    finally:
        loop.close()


def start(options: dict, workdir: str) -> AsyncioWatch:
    global _W, _StepWrapper
    if _StepWrapper is None:
        _StepWrapper = _step_wrapper_type()
    _W = check = AsyncioWatch(options, workdir)
    # the check itself: asyncio's own methods and warnings' private hook replaced by ours
    events.Handle._run = _handle_run  # type: ignore[method-assign]
    base_events.BaseEventLoop.run_forever = _run_forever  # type: ignore[method-assign]
    base_events.BaseEventLoop.run_in_executor = _run_in_executor  # type: ignore[method-assign, assignment]
    base_events.BaseEventLoop.call_exception_handler = _call_exception_handler  # type: ignore[method-assign]
    warnings._warn_unawaited_coroutine = _warn_unawaited  # type: ignore[attr-defined]  # private: not in typeshed
    if sys.get_coroutine_origin_tracking_depth() < check.origin_depth:
        sys.set_coroutine_origin_tracking_depth(check.origin_depth)
    gc.callbacks.append(_gc_callback)
    check.clock_for(_thread.get_native_id())  # before the student's code: its descriptor first
    os.register_at_fork(after_in_child=_reset_after_fork)
    return check
