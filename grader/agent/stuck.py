"""Proof, from the kernel's view alone, that a process tree is stuck for good (a deadlock).

The supervisor calls `StuckWatch.check(tree)` while a request runs. A tree is *stuck* when every
thread of every process in it is asleep (state S) in a wait that has no timeout and that only a
thread of the tree could end:

* `futex` waits (FUTEX_WAIT, FUTEX_WAIT_BITSET, FUTEX_LOCK_PI, FUTEX_WAIT_REQUEUE_PI) and
  `futex_waitv` with no timeout: every `threading`/`_thread` lock, `RLock`, `Condition`,
  `Event`, `Semaphore`, `Barrier`, `queue.Queue`, `Thread.join`, and multiprocessing's shared
  locks and semaphores (a POSIX semaphore in shared memory, which only the tree maps) wait so;
* `wait4`/`waitid` without WNOHANG: a parent waiting for a child of the tree to end.

If all of them are in such a wait at one moment, nobody is left to release, signal, put or exit,
so nobody ever will: the request is judged at once instead of at its timeout. Anything else --
a running or runnable thread, a `sleep`, a wait with a timeout (the GIL's hand-over included),
I/O, a pipe or socket, `poll`, a stopped or uninterruptible thread, an unknown system call, a
file we cannot read -- means no proof, and the timeout decides as before.

The moment: the threads are read twice; a thread counts only if it is in the same wait with the
same context-switch counts both times. A thread that ran between the two reads (woken, then
asleep again) has switched at least once more, so when every count is unchanged, every thread
slept through the instant between the reads. The same state must also hold for `HOLD` seconds
(a margin, not needed by the argument). Nothing here comes from the student's process: states,
counts and system calls are the kernel's (`/proc/PID/task/TID/{status,syscall}`), and
`syscall` is readable only with ptrace access (root with CAP_SYS_PTRACE in the sandbox; the
agent is not dumpable), so where it is not readable there is simply no proof.

Signals are the other way to end a wait. A thread of the tree cannot send one (all are
waiting), the supervisor sends none, and the kernel's timers are the rest: a process that
catches SIGALRM, SIGVTALRM, SIGPROF or SIGIO (an interval timer or an async-I/O signal could
run its handler, which may end a wait), or has a POSIX timer (`/proc/PID/timers`), is never
proven stuck. (A timer whose signal keeps its default action would kill the process, not wake
it: the run fails either way.)
"""

from __future__ import annotations

import os
import platform
import time

HOLD = 0.1  # seconds the same stuck state must be seen before it is trusted
MAX_TASKS = 512  # a bigger tree is left to the timeout

# System call numbers: futex, futex_waitv, wait4, waitid.
_SYSCALLS = {
    "x86_64": {202: "futex", 449: "futex_waitv", 61: "wait4", 247: "waitid"},
    "aarch64": {98: "futex", 449: "futex_waitv", 260: "wait4", 95: "waitid"},
}.get(platform.machine(), {})
FUTEX_CMD_MASK = 0x7F  # without FUTEX_PRIVATE_FLAG (128) and FUTEX_CLOCK_REALTIME (256)
FUTEX_WAITS = {
    0: "FUTEX_WAIT",
    6: "FUTEX_LOCK_PI",
    9: "FUTEX_WAIT_BITSET",
    11: "FUTEX_WAIT_REQUEUE_PI",
    13: "FUTEX_LOCK_PI2",
}
WNOHANG = 1
# Signals whose handler a kernel timer or async I/O could run: SIGALRM, SIGVTALRM, SIGPROF, SIGIO.
TIMER_SIGNALS = (14, 26, 27, 29)


def _read(path: str) -> str | None:
    """The file's text; a thread's name in it is the student's to set (any bytes: replaced)."""
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read(4096)
    except OSError:
        return None


def _status(text: str) -> dict[str, str]:
    out = {}
    for line in text.splitlines():
        key, _, value = line.partition(":")
        out[key] = value.strip()
    return out


def wait_of(syscall_line: str) -> str | None:
    """The untimed wait a thread's `/proc/.../syscall` line shows ('futex 0x55...'), or None
    when it is anything else (running, another call, a wait with a timeout, WNOHANG)."""
    fields = syscall_line.split()
    if len(fields) < 7 or not fields[0].isdigit():
        return None
    name = _SYSCALLS.get(int(fields[0]))
    try:
        args = [int(x, 16) for x in fields[1:7]]
    except ValueError:
        return None
    if name == "futex":
        cmd = args[1] & FUTEX_CMD_MASK
        if cmd in FUTEX_WAITS and args[3] == 0:  # no timeout
            return f"futex {args[0]:#x}"
    elif name == "futex_waitv":
        if args[3] == 0:
            return f"futex_waitv {args[0]:#x}"
    elif name == "wait4":
        if not args[2] & WNOHANG:
            return f"wait4 {args[0]}"
    elif name == "waitid":
        if not args[3] & WNOHANG:
            return f"waitid {args[1]}"
    return None


def _process_may_be_woken(pid: int, status: dict[str, str]) -> bool:
    """Whether a timer or async I/O could run a handler in this process (or we cannot tell)."""
    try:
        caught = int(status.get("SigCgt", "0"), 16)
    except ValueError:
        return True
    if any(caught >> (sig - 1) & 1 for sig in TIMER_SIGNALS):
        return True
    timers = _read(f"/proc/{pid}/timers")
    return timers is None or bool(timers.strip())


def snapshot(pids) -> dict | None:
    """{tid: (pid, wait, voluntary, involuntary switches)} when every live thread of these
    processes is asleep in an untimed wait; None as soon as one is not (or cannot be read)."""
    state: dict[int, tuple] = {}
    if not _SYSCALLS:
        return None
    for pid in pids:
        text = _read(f"/proc/{pid}/status")
        try:
            tids = os.listdir(f"/proc/{pid}/task")
        except OSError:
            continue  # gone meanwhile: the next look sees a changed tree
        if text is None:
            continue
        process = _status(text)
        if process.get("State", "?")[:1] in ("Z", "X"):
            continue  # ended, not yet reaped: it wakes nobody
        if _process_may_be_woken(pid, process):
            return None
        for tid in tids:
            base = f"/proc/{pid}/task/{tid}"
            status = _read(f"{base}/status")
            if status is None:
                continue  # exited meanwhile
            fields = _status(status)
            code = fields.get("State", "?")[:1]
            if code in ("Z", "X"):
                continue  # an ended thread or process: it wakes nobody, and nobody needs it
            if code != "S":
                return None
            line = _read(f"{base}/syscall")
            wait = wait_of(line) if line else None
            if wait is None:
                return None
            state[int(tid)] = (
                pid,
                wait,
                fields.get("voluntary_ctxt_switches"),
                fields.get("nonvoluntary_ctxt_switches"),
            )
            if len(state) > MAX_TASKS:
                return None
    return state or None


class StuckWatch:
    """Watches one request's tree; `check` returns the proof once the tree is stuck."""

    def __init__(self, hold: float = HOLD):
        self.hold = hold
        self.seen: dict | None = None
        self.since = 0.0

    def check(self, tree, list_tree) -> dict | None:
        """`tree`: the processes as last listed; `list_tree()` lists them again (a process
        forked meanwhile must not slip by). The proof, or None."""
        first = snapshot(tree)
        second = snapshot(tree) if first else None
        if first is None or first != second or set(list_tree()) != set(tree):
            self.seen = None
            return None
        now = time.monotonic()
        if second != self.seen:
            self.seen, self.since = second, now
        if now - self.since < self.hold:
            return None
        waits: dict[str, int] = {}
        for _, wait, _, _ in second.values():
            kind = wait.split()[0]
            waits[kind] = waits.get(kind, 0) + 1
        return {
            "processes": len(set(tree)),
            "threads": len(second),
            "waits": waits,
            "held": round(now - self.since, 3),
        }
