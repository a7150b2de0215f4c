"""Proof, from the kernel's view alone, that a process tree is stuck for good (a deadlock).

The supervisor calls `StuckWatch.check(tree)` while a request runs. A tree is *stuck* when every
thread of every process in it is asleep (state S) in a wait that has no timeout and that only a
thread of the tree could end:

* `futex` waits (FUTEX_WAIT, FUTEX_WAIT_BITSET, FUTEX_LOCK_PI, FUTEX_WAIT_REQUEUE_PI) and
  `futex_waitv` with no timeout: every `threading`/`_thread` lock, `RLock`, `Condition`,
  `Event`, `Semaphore`, `Barrier`, `queue.Queue`, `Thread.join`, and multiprocessing's shared
  locks and semaphores (a POSIX semaphore in shared memory, which only the tree maps) wait so;
* `wait4`/`waitid` without WNOHANG: a parent waiting for a child of the tree to end;
* a blocking `read` of an empty anonymous pipe, or `write` to a full one, when every open
  descriptor of the pipe's other end (in any process we can see) belongs to the tree: only a
  write to, or the close of, that other end could end the wait. `multiprocessing.Queue.get()`
  and a consumer's feeder thread wait so (a parent waiting for results that nobody left alive
  will ever put). A named pipe (FIFO: anyone may open it), a socket, or an end held by a
  process outside the tree (the supervisor, the template, another user's process), or a tree
  that holds an io_uring (it could write on its own), means no proof.

If all of them are in such a wait at one moment, nobody is left to release, signal, put or exit,
so nobody ever will: the request is judged at once instead of at its timeout. Anything else --
a running or runnable thread, a `sleep`, a wait with a timeout (the GIL's hand-over included),
other I/O, a socket, `poll`, a stopped or uninterruptible thread, an unknown system call, a
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

import ctypes
import os
import platform
import time

HOLD = 0.1  # seconds the same stuck state must be seen before it is trusted
MAX_TASKS = 512  # a bigger tree is left to the timeout

# System call numbers: futex, futex_waitv, wait4, waitid, read, write.
_SYSCALLS = {
    "x86_64": {202: "futex", 449: "futex_waitv", 61: "wait4", 247: "waitid", 0: "read", 1: "write"},
    "aarch64": {
        98: "futex",
        449: "futex_waitv",
        260: "wait4",
        95: "waitid",
        63: "read",
        64: "write",
    },
}.get(platform.machine(), {})
O_ACCMODE = 3  # in /proc/PID/fdinfo/FD's `flags` (octal): 0 read only, 1 write only, 2 both
PIPE_WAITS = {"read": "pipe-read", "write": "pipe-write"}
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


def _text(path: str) -> str:
    with open(path, encoding="utf-8", errors="replace") as f:
        return f.read(4096)


def _as_owner(pid, op, *args):
    """`op(*args)` on a /proc file of process `pid`; where the kernel refuses, once more with
    this thread's file-system uid and gid set to the process's own (then set back). A process
    that exec'd a program (multiprocessing's resource tracker, a spawned child) is dumpable
    again, so its /proc files belong to its uid, mode 0400: the sandbox's supervisor, a root
    with CAP_SYS_PTRACE but without CAP_DAC_OVERRIDE, may not open them as root. setfsuid and
    setfsgid change the calling thread only, and only for file access."""
    try:
        return op(*args)
    except PermissionError:
        owner = os.stat(f"/proc/{pid}")
        if os.geteuid() != 0 or owner.st_uid == 0:
            raise
    libc = ctypes.CDLL(None, use_errno=True)
    old_gid = libc.setfsgid(owner.st_gid)
    old_uid = libc.setfsuid(owner.st_uid)
    try:
        return op(*args)
    finally:
        libc.setfsuid(old_uid)
        libc.setfsgid(old_gid)


def _read(path: str, pid: int | str | None = None) -> str | None:
    """The file's text (read as the owner of process `pid`'s /proc files if root may not); a
    thread's name in it is the student's to set (any bytes: replaced)."""
    try:
        return _text(path) if pid is None else _as_owner(pid, _text, path)
    except OSError:
        return None


def _status(text: str) -> dict[str, str]:
    out = {}
    for line in text.splitlines():
        key, _, value = line.partition(":")
        out[key] = value.strip()
    return out


def wait_of(syscall_line: str) -> str | None:
    """The untimed wait a thread's `/proc/.../syscall` line shows ('futex 0x55...'; 'read 3'
    and 'write 3' for the descriptor a blocking read or write waits on, still to be checked by
    `pipe_wait`), or None when it is anything else (running, another call, a wait with a
    timeout, WNOHANG)."""
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
    elif name in PIPE_WAITS:
        return f"{name} {args[0]}"
    return None


def _pipe_of(link: str) -> int | None:
    """The inode of an anonymous pipe from a `/proc/PID/fd/N` link ('pipe:[1234]'), else None
    (a named pipe's link is its path: anyone allowed may open it, so it is never proven)."""
    if link.startswith("pipe:[") and link.endswith("]") and link[6:-1].isdigit():
        return int(link[6:-1])
    return None


def pipe_wait(pid: int, tid: str, wait: str) -> str | None:
    """'pipe-read INODE' / 'pipe-write INODE' for a thread blocked reading or writing an
    anonymous pipe ('read 3' from `wait_of`), or None (another kind of file: no proof)."""
    op, _, fd = wait.partition(" ")
    try:
        link = _as_owner(pid, os.readlink, f"/proc/{pid}/task/{tid}/fd/{int(fd)}")
    except (OSError, ValueError):
        return None
    inode = _pipe_of(link)
    return None if inode is None else f"{PIPE_WAITS[op]} {inode}"


def _zombie(pid: str) -> bool:
    return _status(_read(f"/proc/{pid}/status") or "").get("State", "?")[:1] in ("Z", "X")


def _access(pid: str, fd: str) -> int | None:
    text = _read(f"/proc/{pid}/fdinfo/{fd}", pid)
    for line in (text or "").splitlines():
        if line.startswith("flags:"):
            try:
                return int(line.split()[1], 8) & O_ACCMODE
            except (IndexError, ValueError):
                return None
    return None


def only_the_tree_can_end(pipe_waits: set[str], tree) -> bool:
    """Whether every open descriptor that could end these pipe waits (the write end of a pipe
    read from, the read end of one written to) belongs to a process of `tree`, and no process
    of the tree holds an io_uring; False as soon as a process's descriptors cannot be read."""
    needed: dict[int, set[int]] = {}  # inode: the access modes that could end its waits
    for wait in pipe_waits:
        kind, _, number = wait.partition(" ")
        needed.setdefault(int(number), set()).update(
            (1, 2) if kind == PIPE_WAITS["read"] else (0, 2)
        )
    members = {str(p) for p in tree}
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            fds = _as_owner(pid, os.listdir, f"/proc/{pid}/fd")
        except FileNotFoundError:
            continue  # gone: it holds nothing now
        except OSError:
            if _zombie(pid):
                continue  # ended: its descriptors are closed
            return False  # a process we cannot look into might hold an end
        for fd in fds:
            try:
                link = _as_owner(pid, os.readlink, f"/proc/{pid}/fd/{fd}")
            except FileNotFoundError:
                continue
            except OSError:
                return False
            if pid in members and link == "anon_inode:[io_uring]":
                return False
            inode = _pipe_of(link)
            if inode is None or inode not in needed or pid in members:
                continue
            mode = _access(pid, fd)
            if mode is None or mode in needed[inode]:
                return False
    return True


def _process_may_be_woken(pid: int, status: dict[str, str]) -> bool:
    """Whether a timer or async I/O could run a handler in this process (or we cannot tell)."""
    try:
        caught = int(status.get("SigCgt", "0"), 16)
    except ValueError:
        return True
    if any(caught >> (sig - 1) & 1 for sig in TIMER_SIGNALS):
        return True
    timers = _read(f"/proc/{pid}/timers", pid)
    return timers is None or bool(timers.strip())


def snapshot(pids) -> dict | None:
    """{tid: (pid, wait, voluntary, involuntary switches)} when every live thread of these
    processes is asleep in an untimed wait; None as soon as one is not (or cannot be read)."""
    state: dict[int, tuple] = {}
    pipes: set[str] = set()
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
            line = _read(f"{base}/syscall", pid)
            wait = wait_of(line) if line else None
            if wait is not None and wait.split()[0] in PIPE_WAITS:
                wait = pipe_wait(pid, tid, wait)
                if wait is not None:
                    pipes.add(wait)
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
    if pipes and not only_the_tree_can_end(pipes, pids):
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
