"""Time the event loop spent blocked in short steps, added up per task and per line.

The asyncio check (`grader.checks.asyncio_watch`) judges each step of the loop alone: a step
held `slow_callback` (0.05 s) or more is reported. A `time.sleep(0.1)` cut into four slices of
25 ms with `await asyncio.sleep(0)` between them holds the loop just as long, one short step at
a time. This module adds up, for every step shorter than `slow_callback`, the time the loop's
thread spent *blocked* in it (asleep in a blocking call: `time.sleep`, a socket, `queue.get`,
`Lock.acquire`, `subprocess.run`, `Future.result()`...):

    blocked = wall time - garbage collection - CPU time of the whole process
              - time the loop thread waited for a CPU (its run_delay)

CPU time is not blocking (a CPU-heavy step is judged per step, as before); the process's CPU
time, not the thread's, is taken off, so a step that waited for the GIL while another thread
computed is not held against the loop; run_delay (`/proc/self/task/<tid>/schedstat`, field 2,
read with `os.pread` through a descriptor opened before the student's code runs) is the time
the thread was runnable but the machine gave it no CPU, so a loaded machine never counts; and
after a step that looks blocked, the run_delay of the process's other threads is taken off too
(a thread the loop waited for, which the machine kept from running: a new thread starting, the
GIL's holder).
Readings are taken at the end of each step of `floor` seconds or more and measured from the
previous reading: the CPU and wait time between two readings is at least that of the step, so
the estimate can only err low, never against the student.

A task (or a callback function) whose steps were blocked `slow_callback` or more in all, or a
line of the student's code at which all tasks together were, is reported as blocking the loop,
with the lines: found by the check's watchdog, which samples the loop thread's stack while a
step runs, or else the await at which the step ended (the blocking call runs just before it).
"""

from __future__ import annotations

import os
import time

MAX_KEYS = 2000  # tasks and callbacks followed at once (a flood of tasks is not followed further)
MAX_LINES = 5  # lines shown per entry
MAX_REPORTED = 10  # entries in the report

_process_cpu = time.process_time


def open_task_dir() -> int:
    """A descriptor of /proc/self/task (-1 if there is none), opened before the student's code
    runs: each loop thread's schedstat is opened relative to it."""
    try:
        return os.open("/proc/self/task", os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return -1


class ThreadClock:
    """The process's CPU time and one thread's run_delay, in seconds."""

    __slots__ = ("fd", "tid", "pid", "identity")

    def __init__(self, task_dir: int, tid: int):
        self.tid = tid
        self.pid = os.getpid()
        self.fd = os.open(f"{tid}/schedstat", os.O_RDONLY, dir_fd=task_dir)
        info = os.fstat(self.fd)
        self.identity = (info.st_dev, info.st_ino)

    def read(self) -> tuple[float, float] | None:
        """(process CPU seconds, the thread's run_delay seconds); None if it cannot be read (in
        a forked child, the thread is the parent's)."""
        try:
            fields = os.pread(self.fd, 80, 0).split()
            if len(fields) != 3 or os.getpid() != self.pid:
                return None
            return _process_cpu(), int(fields[1]) / 1e9
        except (OSError, ValueError):
            return None

    def intact(self) -> bool:
        """False if the descriptor now names another file (the student's code closed ours and
        opened its own in its place, to feed the check readings of its choosing)."""
        if os.getpid() != self.pid:
            return True
        try:
            info = os.fstat(self.fd)
        except OSError:
            return False
        return (info.st_dev, info.st_ino) == self.identity

    def close(self) -> None:
        try:
            os.close(self.fd)
        except OSError:
            pass


class OtherThreads:
    """The run_delay of the student's other threads, summed since the last look.

    A thread the loop waits for (one it starts, the GIL's holder, a lock's holder) that was
    runnable but got no CPU delays the loop through no fault of the code. Read only after a step
    that looks blocked (about 5 us per thread), and before a step when the student has threads
    and the last look is older than a few milliseconds; the time since the previous look covers
    the step. The threads there were at the first look (the platform's) and those `ignore`d
    later (the check's watchdog) are not counted: the loop never waits for them but for the
    GIL, briefly."""

    __slots__ = ("task_dir", "seen", "at", "ignore", "students")

    def __init__(self, task_dir: int):
        self.task_dir = task_dir
        self.seen: dict[str, int] = {}
        self.at = 0.0  # when it last looked (perf_counter)
        self.ignore: set[str] = set()
        self.students = False  # whether the last look saw any thread not ignored
        self.since()
        self.ignore = set(self.seen)

    def since(self, exclude: int = 0) -> float:
        """Seconds the other threads (all but `exclude`) waited for a CPU since the last call
        (a thread new since then: all of its wait)."""
        now: dict[str, int] = {}
        self.at = time.perf_counter()
        try:
            names = os.listdir(self.task_dir)
        except OSError:
            return 0.0
        for name in names:
            try:
                fd = os.open(f"{name}/schedstat", os.O_RDONLY, dir_fd=self.task_dir)
                try:
                    now[name] = int(os.read(fd, 80).split()[1])
                finally:
                    os.close(fd)
            except (OSError, IndexError, ValueError):
                continue  # the thread ended meanwhile
        waited = sum(
            delay - self.seen.get(name, 0)
            for name, delay in now.items()
            if name != str(exclude) and name not in self.ignore
        )
        self.seen = now
        self.students = any(name not in self.ignore for name in now)
        return max(0, waited) / 1e9


def blocked_seconds(wall: float, before, after) -> float:
    """The part of a step's `wall` time (GC already taken off) that the loop thread spent
    blocked, from the `ThreadClock` readings before and after it (0.0 without both)."""
    if before is None or after is None:
        return 0.0
    cpu = after[0] - before[0]
    waited = after[1] - before[1]
    return max(0.0, wall - max(0.0, cpu) - max(0.0, waited))


class BlockedSums:
    """Blocked seconds of short steps, per task or callback ("key") and per line.

    `add(key, about, seconds, lines)`: `about` describes the key once (coro, task, student,
    defined); `lines` is [((file, line, function, student), weight), ...] where the time was
    spent (weights add up to 1) and `located` says how the lines were found."""

    def __init__(self, slow: float):
        self.slow = slow
        self.keys: dict = {}
        self.lines: dict = {}  # (file, line, function, student) -> [seconds, steps, {keys}]
        self.dropped = 0.0

    def add(self, key, about: dict, seconds: float, lines: list, located: str) -> None:
        entry = self.keys.get(key)
        if entry is None:
            if len(self.keys) >= MAX_KEYS:
                self.dropped += seconds
                return
            entry = self.keys[key] = {
                **about,
                "seconds": 0.0,
                "steps": 0,
                "longest": 0.0,
                "lines": {},
            }
        entry["seconds"] += seconds
        entry["steps"] += 1
        entry["longest"] = max(entry["longest"], seconds)
        for where, weight in lines:
            part = seconds * weight
            mine = entry["lines"].setdefault(where, [0.0, 0, located])
            mine[0] += part
            mine[1] += 1
            if located == "sampled":
                mine[2] = "sampled"
            total = self.lines.setdefault(where, [0.0, 0, set(), located])
            total[0] += part
            total[1] += 1
            total[2].add(key)
            if located == "sampled":
                total[3] = "sampled"

    def report(self, frame) -> list[dict]:
        """Entries (in the form of the check's `blocking` list, kind "slices") for every task or
        callback blocked `slow` or more in all, then for every line blocked that long by
        several tasks together; `frame(file, line, function)` makes a frame record."""
        out: list[dict] = []
        shown: set = set()
        for entry in sorted(self.keys.values(), key=lambda e: -e["seconds"]):
            if entry["seconds"] < self.slow or len(out) >= MAX_REPORTED:
                continue
            ranked = sorted(entry["lines"].items(), key=lambda kv: (not kv[0][3], -kv[1][0]))
            shown.update(where for where, _ in ranked)
            out.append(
                self._entry(
                    frame,
                    ranked,
                    coro=entry["coro"],
                    task=entry["task"],
                    tasks=1,
                    student=entry["student"] or any(w[3] for w, _ in ranked),
                    seconds=entry["seconds"],
                    steps=entry["steps"],
                    longest=entry["longest"],
                    defined=entry.get("defined"),
                )
            )
        for where, (seconds, steps, keys, located) in sorted(
            self.lines.items(), key=lambda kv: -kv[1][0]
        ):
            if seconds < self.slow or where in shown or len(out) >= MAX_REPORTED:
                continue
            coros = sorted({self.keys[k]["coro"] for k in keys if k in self.keys})
            out.append(
                self._entry(
                    frame,
                    [(where, [seconds, steps, located])],
                    coro=", ".join(coros[:3]) + (", ..." if len(coros) > 3 else ""),
                    task=None,
                    tasks=len(keys),
                    student=where[3],
                    seconds=seconds,
                    steps=steps,
                    longest=max(
                        (self.keys[k]["longest"] for k in keys if k in self.keys), default=0.0
                    ),
                    defined=None,
                )
            )
        return out

    def _entry(
        self, frame, ranked, *, coro, task, tasks, student, seconds, steps, longest, defined
    ) -> dict:
        lines = []
        for (filename, line, function, _), (secs, n, located) in ranked[:MAX_LINES]:
            rec = frame(filename, line, function) if filename else {"file": None, "line": None}
            rec.update(seconds=round(secs, 4), steps=n, located=located)
            lines.append(rec)
        top = lines[0] if lines else {}
        entry = {
            "kind": "slices",
            "coro": coro,
            "task": task,
            "tasks": tasks,
            "file": top.get("file"),
            "line": top.get("line"),
            "code": top.get("code", ""),
            "function": top.get("name"),
            "located": top.get("located"),
            "student": bool(student),
            "seconds": round(seconds, 4),
            "total_seconds": round(seconds, 4),
            "count": steps,
            "longest": round(longest, 4),
            "slice_limit": self.slow,
            "lines": lines,
        }
        if defined is not None:
            entry["defined"] = defined
        return entry
