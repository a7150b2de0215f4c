"""The supervisor: runs one request inside the sandbox and judges the process tree from outside.

`supervise(submission, workroot, request)` is called by the sandbox's server
(`grader.agent.server`) for each request of a session; the request comes over the server's
private channel (never in an argument: every process's command line is readable by every
user). The supervisor copies the submission into a fresh work directory,
starts the agent (or `mpiexec -n N` agents) -- as the student's own user when the request names
one (`agent_user`, in the Docker sandbox), so the student's code cannot signal, trace or alter
the supervisor -- and hands each agent its request over a private socket (`channel`). It watches
the whole process tree: wall-clock limit, CPU time of every descendant (from the kernel, not
from the student's process, whose clocks a student can patch) with the most any single process
used (the *span*: work / span tells how many processes really shared the work, and GIL-bound
threads never exceed 1), the peak number of threads running at once, all-thread stacks when it
has to kill a hang, CPU/wall during the stall (about 0 for a deadlock, about 1 per busy thread
for a busy-wait), and processes left running afterwards. It returns one reply (a dict the
server sends back as a frame).

Everything the student's side produced -- the agents' frames, findings, stack dumps, tool logs,
work-item records -- is read only after the process tree is dead, with size and depth caps, and
cleaned (`untrusted`); whatever cannot be read or parsed is the student's crash, never the
platform's. The run folder is removed as the student (no recursion limit, the student's own
permissions); a request that finds its work area full or dirty, or leaves residue, says
`recycle` so that the backend gives the next request a fresh one.
"""

from __future__ import annotations

import ctypes
import glob
import json
import os
import resource
import select
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import threading
import time

from grader.agent import channel, evidence, mpi_stuck, spawn, stuck, tasks, untrusted, wrappers
from grader.agent.frames import parse_faulthandler, read_sources
from grader.agent.safeio import read_untrusted
from grader.agent.starved import StarvedClock
from grader.checks import mpi_setup, workitems
from grader.protocol import (
    FINDINGS,
    STALL_CPU_RATIO,
    AgentRequest,
    AgentResult,
    MalformedMessage,
    Request,
    Status,
)

STARTUP_SECONDS = 10.0  # see grader.sandbox.base: before the student's function is called
POLL = 0.02
STALL_WINDOW = 1.0
MAX_STACK_FILES = 16  # processes whose stacks are reported after a hang
PEAK_EVERY = 5  # polls between counts of running threads (peak concurrency)
HANG_KINDS = ("asyncio-deadlock",)  # findings that prove the run can never finish
MAX_STACK_BYTES = 256 * 1024
MAX_FINDINGS_BYTES = 1_000_000
MIN_FREE_BYTES = 16 * 2**20  # a work area with less room than this is recycled
RESULT_DEPTH = 200  # values nest (codec: 50 levels, up to 3 JSON levels each)
CLK_TCK = os.sysconf("SC_CLK_TCK")
PR_SET_CHILD_SUBREAPER = 36


# ---------------------------------------------------------------- process tree


def _proc_stat(pid: int) -> tuple[int, tuple[float, float]] | None:
    """(parent pid, (own CPU seconds, CPU seconds of its reaped children)) from /proc."""
    try:
        with open(f"/proc/{pid}/stat", encoding="latin-1") as f:  # comm: any bytes
            data = f.read()
    except OSError:
        return None
    fields = data[data.rfind(")") + 2 :].split()
    ppid = int(fields[1])
    utime, stime, cutime, cstime = (int(x) for x in fields[11:15])
    return ppid, ((utime + stime) / CLK_TCK, (cutime + cstime) / CLK_TCK)


def _ended(pid: int) -> bool:
    """Whether `pid` has exited (a zombie, not reaped yet) or is gone."""
    try:
        with open(f"/proc/{pid}/stat", encoding="latin-1") as f:
            data = f.read()
    except OSError:
        return True
    return data[data.rfind(")") + 2 :][:1] in ("Z", "X", "")


def descendants(root: int) -> dict[int, tuple[float, float]]:
    """Every live descendant of `root` with (own CPU, reaped children's CPU) in seconds."""
    table = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            stat = _proc_stat(int(name))
            if stat:
                table[int(name)] = stat
    children: dict[int, list[int]] = {}
    for pid, (ppid, _) in table.items():
        children.setdefault(ppid, []).append(pid)
    skip = _template.pid if _template is not None else None  # ours, not the student's
    out, todo = {}, [pid for pid in children.get(root, []) if pid != skip]
    while todo:
        pid = todo.pop()
        out[pid] = table[pid][1]
        todo.extend(children.get(pid, []))
    return out


def _cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            text = f.read(4096).replace(b"\0", b" ").decode(errors="replace").strip()[:200]
    except OSError:
        return "?"
    return untrusted.clean_str(text) or "<a child process that exited but was never joined>"


# Helper processes of multiprocessing that exit on their own once the agent has exited.
PLATFORM_HELPERS = ("multiprocessing.resource_tracker", "multiprocessing.forkserver")
HELPER_GRACE = 2.0  # seconds the helpers get to exit once the agent has (they take milliseconds)
HELPER_STARVED_MAX = 4.0  # at most this much more, for their wait for a CPU (within base.GRACE)


class Helpers:
    """Multiprocessing's own helpers (resource tracker, fork server), which exit once the agent
    has: a process is one if its command line says so *and* its parent is not one (the
    student's processes that a fork server starts carry the server's command line, but the
    server is their parent). Each new process is looked at while the run goes on, so a helper
    caught exiting at the end (no command line left) is still known by its pid. Nothing the
    agent says is taken into account: it runs in the student's process.

    The looking is done by a thread of its own: reading a command line waits for the
    process's memory map, which a process that keeps forking holds most of the time (a fork
    bomb made single reads last over a second, and the supervisor's polls with them)."""

    LOOKS = 50  # a forked process with its parent's command line may not have exec'd yet

    def __init__(self):
        self.seen: dict[int, bool] = {}  # pid -> is a helper
        self.done: set[int] = set()  # decided for good (exec'd, or looked at long enough)
        self.looks: dict[int, int] = {}
        self._latest: list[int] = []
        self._wake = threading.Event()
        self._stop = False
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._watch, daemon=True, name="helpers")
        self._thread.start()

    def offer(self, pids) -> None:
        """The tree as the supervisor last saw it: looked at as soon as the thread is free."""
        self._latest = list(pids)
        self._wake.set()

    def _watch(self) -> None:
        while not self._stop:
            self._wake.wait()
            self._wake.clear()
            if not self._stop:
                self.note(self._latest)

    def note(self, pids) -> None:
        with self._lock:
            for pid in pids:
                if pid in self.done or (self._stop and threading.current_thread() is self._thread):
                    continue
                ppid, line = _ppid(pid), _cmdline(pid)
                named = any(h in line for h in PLATFORM_HELPERS)
                self.seen[pid] = named and not self.seen.get(ppid, False)
                self.looks[pid] = looks = self.looks.get(pid, 0) + 1
                if self.seen[pid] or line != _cmdline(ppid) or looks >= self.LOOKS:
                    self.done.add(pid)

    def close(self) -> None:
        self._stop = True
        self._wake.set()

    def leftovers(self, root: int) -> list[str]:
        """The command lines of the processes still alive under `root` that are the student's:
        a helper still there after `HELPER_GRACE` is one too (the student's processes can carry
        a helper's command line without being one: a fork server's child forks, and the
        grandchild has the server's command line and a parent that is no helper, or none once
        that child has exited). The tree is stopped first: a stopped process holds no lock on
        its memory map, so every read is quick, and nothing forks or exits while we look."""
        self.close()
        lingering = self._helpers_exit(root)
        tree = descendants(root)
        if not tree:
            return []
        _signal_all(tree, signal.SIGSTOP)
        tree = descendants(root)
        _signal_all(tree, signal.SIGSTOP)  # any forked meanwhile
        self.note(tree)
        return [_cmdline(pid) for pid in tree if not self.seen.get(pid) or pid in lingering]

    def _helpers_exit(self, root: int) -> set[int]:
        """Wait until no helper is left under `root`, as none is soon after the agent has
        exited: `HELPER_GRACE`, plus the time the helpers waited for a CPU meanwhile that the
        tree's own processes did not take (the sandbox's processes run at idle priority: on a
        busy machine a resource tracker may not be let run to read its end of file for
        seconds, and a correct program is not charged with it; a program that keeps its cores
        busy gains nothing), at most `HELPER_STARVED_MAX` more. The pids of the helpers still
        there after that."""
        start, starved, marked = time.monotonic(), StarvedClock(), False
        while True:
            tree = descendants(root)
            if len(tree) <= 4 * MAX_STACK_FILES:  # a bomb's processes are leftovers anyway
                self.note([pid for pid in tree if pid not in self.seen])
            named = {pid for pid in tree if self.seen.get(pid) and not _ended(pid)}
            if not named:
                return named
            now, cpu = time.monotonic(), sum(own + reaped for own, reaped in tree.values())
            if not marked:
                starved.mark(named, now, cpu, _cores(min(named)))
                marked = True
            more = starved.give_back(named, now, cpu, HELPER_STARVED_MAX)
            if now - start >= HELPER_GRACE + more:
                return named
            time.sleep(0.01)  # nothing is reaped here: the student's unjoined children that
            # ended are zombies until then, and a zombie is a process never joined: a leftover


def _ppid(pid: int) -> int:
    stat = _proc_stat(pid)
    return stat[0] if stat else 0


def _signal_all(pids, sig) -> None:
    for pid in pids:
        try:
            os.kill(pid, sig)
        except OSError:
            pass


def _sweep(user: dict | None) -> None:
    """With the student's own uid, SIGKILL every process of that uid at once (kill(-1)): one
    sweep outruns any fork bomb, where signalling pid by pid from a /proc scan does not. Only
    where the student has a uid of its own (never the grader's: the local backend).

    No process is started for it (a bomb has taken every pid the container may have): we take
    the student's uid as real and effective uid for the sweep, keeping root as the saved uid
    to come back to; kill(-1) spares the caller."""
    if not user:
        return
    uid = int(user["uid"])
    os.setresuid(uid, uid, 0)
    try:
        for _ in range(50):
            try:
                os.kill(-1, signal.SIGKILL)  # every process of this uid but ours
            except ProcessLookupError:
                break
    finally:
        os.setresuid(0, 0, 0)


def _kill_tree(root: int, deadline: float = 3.0, user: dict | None = None) -> None:
    """SIGKILL every descendant until none is left (a fork bomb keeps forking meanwhile)."""
    _sweep(user)
    end = time.monotonic() + deadline
    while True:
        tree = descendants(root)
        if not tree or time.monotonic() > end:
            return
        _signal_all(tree, signal.SIGSTOP)  # a frozen process forks no more
        _signal_all(tree, signal.SIGKILL)
        reap()


_exits: dict[int, int] = {}  # exit codes of the agents `reap` collected before their owner


def reap() -> None:
    """Collect every child that ended (the student's orphans come to us); an agent's exit code
    is kept for its `Child` handle."""
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        if pid in _watched:
            _exits[pid] = os.waitstatus_to_exitcode(status)


_watched: set[int] = set()


class Child:
    """Our handle on an agent process, however it was started (exec'd, or forked from the
    template): its exit code even when `reap` collected it first."""

    def __init__(self, pid: int):
        self.pid = pid
        self.returncode: int | None = None
        _watched.add(pid)
        self._fd: int | None
        try:
            self._fd = os.pidfd_open(pid)
        except OSError:
            self._fd = None

    def poll(self) -> int | None:
        if self.returncode is None:
            try:
                pid, status = os.waitpid(self.pid, os.WNOHANG)
                if pid:
                    self.returncode = os.waitstatus_to_exitcode(status)
            except ChildProcessError:
                self.returncode = _exits.pop(self.pid, -signal.SIGKILL)
            if self.returncode is not None:
                _watched.discard(self.pid)
                if self._fd is not None:
                    os.close(self._fd)
                    self._fd = None
        return self.returncode

    def wait_a_little(self, seconds: float) -> None:
        """Sleep up to `seconds`, waking at once if the process ends."""
        if self._fd is None:
            time.sleep(seconds)
        else:
            select.select([self._fd], [], [], seconds)

    def wait(self) -> int:
        while (code := self.poll()) is None:
            self.wait_a_little(0.05)
        return code


# ---------------------------------------------------------------- the run

_template: spawn.Template | None = None


def start_template(preload: tuple[str, ...] = ()) -> None:
    """Fork the warm template (the server calls this once, before it starts any thread), with
    `preload`: libraries of `spawn.OPTIONAL_PRELOAD` the exercise uses."""
    global _template
    _template = spawn.Template(base_env(), preload)


def _cores(pid: int) -> int:
    """How many CPUs `pid` may run on (the container's or the local backend's pinning)."""
    try:
        return len(os.sched_getaffinity(pid))
    except OSError:
        return os.cpu_count() or 1


def _start_agent(
    request: Request, wrapper: list[str], workdir: str, env: dict, stdout, stderr
) -> Child:
    """The agent (or `mpiexec`, or a tool wrapping it), forked warm from the template when the
    request is plain, else exec'd."""
    if _template is not None and _template.alive() and not wrapper and not request.ranks:
        pid = _template.spawn(request, workdir, env, stdout.name, stderr.name)
        if pid is not None:
            return Child(pid)
    proc = subprocess.Popen(
        [*wrapper, *_argv(request)],
        cwd=workdir,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=stdout,
        stderr=stderr,
        preexec_fn=spawn.preexec(request),
    )
    proc.returncode = 0  # ours to wait for, not Popen's (see Child)
    return Child(proc.pid)


def _argv(request: Request) -> list[str]:
    agent = [sys.executable, "-I", "-m", "grader.agent.bootstrap"]
    ranks = request.ranks
    if not ranks:
        return agent
    bindir = os.path.dirname(sys.executable)
    mpiexec = shutil.which("mpiexec", path=bindir + os.pathsep + os.environ.get("PATH", ""))
    if not mpiexec:
        raise RuntimeError("mpiexec is not installed in the sandbox")
    return [mpiexec, "-n", str(ranks), *agent]


def base_env() -> dict:
    """The environment every agent gets, whatever its request."""
    env = {
        "PATH": os.path.dirname(sys.executable) + ":/usr/local/bin:/usr/bin:/bin",
        "LANG": "C.UTF-8",
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONUNBUFFERED": "1",
        "OMP_NUM_THREADS": "1",
        "OPENBLAS_NUM_THREADS": "1",
        "MPIR_CVAR_CH4_CMA_ENABLE": "0",  # MPICH under Docker's default seccomp
        "HYDRA_LAUNCHER": "fork",
    }
    for key in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"):
        if key in os.environ:
            env[key] = os.environ[key]
    return env


def _env(workdir: str, socket_path: str, request: Request) -> dict:
    env = {**base_env(), "HOME": workdir, "TMPDIR": workdir, channel.ENV: socket_path}
    if request.ranks:
        shim = mpi_setup.shim_library()  # MPI below Python: strict sends, probes' controls
        if shim:
            env["LD_PRELOAD"] = shim
        if request.mpi.get("strict"):
            env[mpi_setup.STRICT_ENV] = "1"
    return env


def _read_capped(path: str, limit: int) -> tuple[str, int]:
    got = read_untrusted(path, limit)
    if got is None:
        return "", 0
    return untrusted.clean_str(got[0].decode("utf-8", "replace"), limit), got[1]


def _copy_submission(src: str, dst: str) -> None:
    os.makedirs(dst)
    for root, dirs, files in os.walk(src):
        rel = os.path.relpath(root, src)
        target = dst if rel == "." else os.path.join(dst, rel)
        for d in dirs:
            if not os.path.islink(os.path.join(root, d)):
                os.makedirs(os.path.join(target, d), exist_ok=True)
        for name in files:
            path = os.path.join(root, name)
            if os.path.isfile(path) and not os.path.islink(path):
                shutil.copyfile(path, os.path.join(target, name))


def _chown_tree(path: str, uid: int, gid: int) -> None:
    for root, dirs, files in os.walk(path):
        for name in (root, *(os.path.join(root, n) for n in dirs + files)):
            os.lchown(name, uid, gid)


def _run_as(user: dict | None, argv: list[str], timeout: float = 60) -> None:
    """Run a command as `user` (the student: its own files, its own permissions; None: as we
    are), bounded in time."""
    try:
        subprocess.run(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=timeout,
            user=int(user["uid"]) if user else None,
            group=int(user["gid"]) if user else None,
            extra_groups=[] if user else None,
        )
    except (OSError, subprocess.SubprocessError):
        pass


MAX_QUICK_ENTRIES = 10_000  # beyond this, a run folder is left to chmod -R and rm -rf


def _remove_quickly(paths: list[str], keep: bool = False, owner: int | None = None) -> None:
    """Remove these trees with a list for a stack (no recursion), making each folder of
    `owner`'s (default: ours) its to empty first; a folder of someone else's is only removed,
    empty. With `keep`, the folders `paths` are emptied and left (the student empties its own
    folders in a run folder it may not write: the supervisor removes them, empty). Raises on
    anything unusual (a path too long, too many entries...)."""
    owner = os.geteuid() if owner is None else owner
    stack, seen = [(p, False) for p in paths if os.path.lexists(p)], 0
    roots = set(paths) if keep else set()
    while stack:
        path, emptied = stack.pop()
        if emptied:
            if path not in roots:
                os.rmdir(path)
            continue
        seen += 1
        if seen > MAX_QUICK_ENTRIES:
            raise OSError("too many entries")
        info = os.lstat(path)
        if not stat.S_ISDIR(info.st_mode):
            os.unlink(path)
            continue
        if info.st_uid != owner:  # not ours to open: a folder the student emptied
            os.rmdir(path)
            continue
        os.chmod(path, 0o700)
        stack.append((path, True))
        with os.scandir(path) as entries:
            stack.extend((entry.path, False) for entry in entries)


_libc = ctypes.CDLL(None, use_errno=True)


def _set_fs_ids(uid: int, gid: int) -> bool:
    """This thread's file-system uid and gid (Linux): the ones the kernel checks a file access
    against, and nothing else -- no signal, no ptrace, no other thread follows them. True if
    both took (the calls say so only when asked again)."""
    _libc.setfsgid(gid)
    _libc.setfsuid(uid)
    return _libc.setfsuid(uid) == uid and _libc.setfsgid(gid) == gid


def _remove_as(user: dict | None, paths: list[str], keep: bool = False) -> bool:
    """`_remove_quickly` with the student's permissions (its files, its modes: this thread's
    file-system ids are the student's meanwhile, so no process is forked for it); True if it
    went through."""
    if not user:
        try:
            _remove_quickly(paths, keep)
            return True
        except OSError:
            return False
    uid, gid = int(user["uid"]), int(user["gid"])
    ours = os.geteuid(), os.getegid()
    try:
        if not _set_fs_ids(uid, gid):
            return False
        _remove_quickly(paths, keep, owner=uid)
        return True
    except OSError:
        return False  # the slow way follows
    finally:
        if not _set_fs_ids(*ours):
            os._exit(70)  # never go on with the student's file permissions: the host restarts us


def _remove_run(rundir: str, user: dict | None) -> bool:
    """Delete a run folder, however deep and whatever modes the student's code set; False if
    something is left (the backend then recycles the work area). The quick way (`_remove_as`,
    in this process) does for the usual run (the student's permissions empty `work/` and
    `out/`, which are its own, then ours remove them and the rest: the run folder is not the
    student's to write); a deep or huge tree goes to chmod -R and rm -rf, as the student."""
    parts = [os.path.join(rundir, sub) for sub in ("work", "out")]
    if not _remove_as(user, parts, keep=True):
        _run_as(user, ["chmod", "-R", "u+rwx", "--", *parts])
        _run_as(user, ["rm", "-rf", "--", *(os.path.join(p, ".") for p in parts)])
    try:
        _remove_quickly([rundir])  # ours: sockets, logs, output files, the emptied folders
    except OSError:
        _run_as(None, ["rm", "-rf", "--", rundir])
    return not os.path.lexists(rundir)


# Folders the student's uid can write outside its run folder, which every request of the
# container shares: what one request leaves there would let the next one count the requests
# (and so tell the checked ones from the plain ones: the tests run in a fixed order).
SHARED_SCRATCH = ("/tmp", "/dev/shm")
MAX_SCRATCH_ENTRIES = 1_000  # beyond this the container is recycled instead (fresh tmpfs)


def _scratch_left(uid: int) -> list[str] | None:
    """The entries of `SHARED_SCRATCH` that belong to `uid` (None: too many to look at)."""
    found: list[str] = []
    for folder in SHARED_SCRATCH:
        try:
            with os.scandir(folder) as entries:
                for n, entry in enumerate(entries):
                    if n >= MAX_SCRATCH_ENTRIES:
                        return None
                    try:
                        if entry.stat(follow_symlinks=False).st_uid == uid:
                            found.append(entry.path)
                    except OSError:
                        continue
        except OSError:
            continue
    return found


def _sysv_objects(uid: int) -> bool:
    """Whether `uid` owns a System V shared-memory segment, semaphore set or message queue
    (they outlive its processes, in the container's IPC namespace)."""
    for kind in ("shm", "sem", "msg"):
        try:
            with open(f"/proc/sysvipc/{kind}", encoding="ascii", errors="replace") as f:
                header = f.readline().split()
                column = header.index("uid")
                for line in f:
                    fields = line.split()
                    if len(fields) > column and fields[column] == str(uid):
                        return True
        except (OSError, ValueError):
            continue
    return False


def _clear_scratch(user: dict | None) -> bool:
    """Remove what the student's uid left in `SHARED_SCRATCH`, as that uid (the quick way
    only: no slow removal eats into the host's limit); False if anything of the student's is
    left there or in System V IPC: the backend then recycles the container, so that no request
    leaves anything for the next. Only where the student has a uid of its own: the local
    backend's /tmp is the host's."""
    if not user:
        return True
    uid = int(user["uid"])
    left = _scratch_left(uid)
    if left and _remove_as(user, left):  # a tree too big for the quick way: recycled instead
        left = _scratch_left(uid)
    return left == [] and not _sysv_objects(uid)


def _room_to_run(workroot: str) -> str:
    """Why the work area cannot take another run ('' if it can): too little free space, or run
    folders an earlier request could not remove."""
    try:
        info = os.statvfs(workroot)
        left = [n for n in os.listdir(workroot) if n.startswith("run-")]
    except OSError as exc:
        return f"the work area cannot be read ({exc})"
    if info.f_bavail * info.f_frsize < MIN_FREE_BYTES:
        return "the work area is full"
    if left:
        return f"{len(left)} earlier run folder(s) could not be removed"
    return ""


def _prepare(submission: str, workroot: str, request: Request) -> tuple[str, str, str]:
    """A fresh run folder: `work/` (a copy of the submission, the student's current directory)
    and `out/` (stack dumps, findings, work items), both owned by the student when it runs as its
    own user; the folder itself (the agents' socket, tool logs, output files) stays ours."""
    rundir = tempfile.mkdtemp(prefix="run-", dir=workroot)
    os.chmod(rundir, 0o755)
    workdir, outdir = os.path.join(rundir, "work"), os.path.join(rundir, "out")
    _copy_submission(submission, workdir)
    os.mkdir(outdir, 0o755)
    user = request.agent_user
    if user:
        _chown_tree(workdir, int(user["uid"]), int(user["gid"]))
        os.lchown(outdir, int(user["uid"]), int(user["gid"]))
    return rundir, workdir, outdir


def supervise(submission: str, workroot: str, request: Request) -> dict:
    """Run one request; the reply says where its time went (`phases`, seconds on our clock)."""
    t0 = time.monotonic()
    busy = _room_to_run(workroot)
    if busy:
        return {
            "status": Status.SANDBOX_ERROR,
            "recycle": True,
            "message": f"the sandbox could not start the request: {busy}",
        }
    rundir, workdir, outdir = _prepare(submission, workroot, request)
    t1 = time.monotonic()
    try:
        reply = _run(submission, rundir, workdir, outdir, request)
    finally:
        t2 = time.monotonic()
        clean = _remove_run(rundir, request.agent_user)
        clean = _clear_scratch(request.agent_user) and clean
    if not clean or _room_to_run(workroot):
        reply["recycle"] = True
    reply.setdefault("phases", {}).update(prepare=t1 - t0, cleanup=time.monotonic() - t2)
    return reply


class _Ours:
    """Whether a pid is one of this request's processes: a live descendant of the supervisor,
    or one the watch saw in the tree (a process may connect and end before its connection is
    taken, under load: a quick agent does)."""

    def __init__(self, me: int):
        self.me = me
        self.seen: set[int] = set()

    def __call__(self, pid: int) -> bool:
        return pid in self.seen or pid in descendants(self.me)


def _run(submission: str, rundir: str, workdir: str, outdir: str, request: Request) -> dict:
    wrapper, logs = wrappers.prepare(request, rundir)  # Oclgrind, compute-sanitizer
    expected = max(1, request.ranks)
    me = os.getpid()
    items_key = os.urandom(32)
    ours = _Ours(me)
    board = channel.Switchboard(
        rundir, expected, AgentRequest.of(request, rundir, outdir, items_key), is_ours=ours
    )
    collector = evidence.Collector(rundir, is_ours=ours)
    try:
        return _watch(
            submission,
            rundir,
            workdir,
            outdir,
            request,
            board,
            collector,
            wrapper,
            logs,
            items_key,
            ours,
        )
    finally:
        collector.close()  # idempotent: the reply has taken its evidence already
        board.close()


def _watch(
    submission: str,
    rundir: str,
    workdir: str,
    outdir: str,
    request: Request,
    board: channel.Switchboard,
    collector: evidence.Collector,
    wrapper: list[str],
    logs,
    items_key: bytes,
    ours: _Ours,
) -> dict:
    """Start the agents, watch the process tree until it ends or is stopped, and build the
    reply from what the kernel, the agents' lines and the evidence line said."""
    sources = read_sources(submission)
    timeout = request.timeout
    out_limit = int(request.limits.get("output_kb", 64)) * 1024
    expected = max(1, request.ranks)
    me = os.getpid()
    stdout = open(os.path.join(rundir, "stdout.txt"), "wb")
    stderr = open(os.path.join(rundir, "stderr.txt"), "wb")
    usage0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.monotonic()
    proc = _start_agent(
        request, wrapper, workdir, _env(workdir, board.path, request), stdout, stderr
    )
    t_spawned = time.monotonic()
    samples: list[tuple[float, float]] = []
    own_cpu: dict[int, float] = {}  # the most CPU each process was seen to use itself
    peak_running, polls = 0, 0
    timed_out = False
    proof: dict | None = None  # the kernel's word that the tree is stuck for good
    watch = stuck.StuckWatch() if request.prove_deadlock else None
    deadline = t0 + timeout + STARTUP_SECONDS  # until every rank has started the call
    announced = HangFindings(outdir) if watch else None
    mpi_watch: mpi_stuck.MpiStuckWatch | mpi_stuck.WaitFor | None = None
    if watch and request.ranks:
        strict = request.mpi.get("strict")
        mpi_watch = (mpi_stuck.MpiStuckWatch if strict else mpi_stuck.WaitFor)(outdir, expected)
    called, call_at, starved = False, t0, StarvedClock()
    starved_s = 0.0  # the student's threads' waits for a CPU, given back as time (starved.py)
    helpers = Helpers()
    while proc.poll() is None:
        now = time.monotonic()
        tree = descendants(me)
        ours.seen.update(tree)
        helpers.offer(tree)
        samples.append((now, sum(own + reaped for own, reaped in tree.values())))
        if watch and called and len(samples) > 1 and samples[-1][1] == samples[-2][1]:
            # no CPU used since the last poll: maybe every thread waits for good
            proof = watch.check(tree, lambda: descendants(me))
            if proof is not None:
                proof["after"] = round(time.monotonic() - t0, 3)
                timed_out = True
                break
        if announced and called and announced.hang_reported():
            # the asyncio check proved a loop nothing can wake: it hangs
            proof = {"kind": "asyncio", "after": round(time.monotonic() - t0, 3)}
            timed_out = True
            break
        if mpi_watch and called and polls % PEAK_EVERY == 0:
            proof = mpi_watch.check()  # every rank waits in a call that can no longer match
            if proof is not None:
                proof["after"] = round(time.monotonic() - t0, 3)
                timed_out = True
                break
        for pid, (own, _) in tree.items():
            own_cpu[pid] = max(own, own_cpu.get(pid, 0.0))
        if polls % PEAK_EVERY == 0:
            peak_running = max(peak_running, len(_runnable(tree)))
        polls += 1
        if not called and board.calls_started() >= expected:
            called, call_at, deadline = True, now, now + timeout
            starved.mark(tree, now, samples[-1][1], _cores(proc.pid))
        if now > deadline and called:  # a busy machine's CPUs: the time given back (starved.py)
            starved_s = starved.give_back(tree, now, samples[-1][1], timeout)
            deadline = call_at + timeout + starved_s
        if now > deadline:
            timed_out = True
            break
        proc.wait_a_little(POLL)
    t_exit = time.monotonic()
    wall = t_exit - t0
    reply: dict = {
        "wall": wall,
        "span": max(own_cpu.values(), default=0.0),
        "processes": len(own_cpu),
        "peak_running": peak_running,
        "own_cpu": own_cpu,
    }
    if starved_s:
        reply["starved"] = round(starved_s, 3)
    left: list[str] = []
    if timed_out:
        helpers.close()
        reply.update(_kill_hang(outdir, workdir, samples, sources, request.agent_user, proof))
    else:
        left = helpers.leftovers(me)  # anything still alive now was left behind by the student
        _kill_tree(me, user=request.agent_user)
    proc.wait()
    reap()
    stdout.close()
    stderr.close()
    usage1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    reply["cpu"] = (usage1.ru_utime + usage1.ru_stime) - (usage0.ru_utime + usage0.ru_stime)
    reply["exit_code"] = proc.returncode
    reply["stdout"], reply["stdout_truncated"] = _read_capped(stdout.name, out_limit)
    reply["stderr"], reply["stderr_truncated"] = _read_capped(stderr.name, out_limit)
    results, tampering = _results(board)
    tampering += collector.close()  # the tree is dead: what is left on the line is all there is
    if not timed_out and left:
        reply["leftover_processes"] = left[:20]
    calls = [
        link.result_at - link.called_at for link in board.links if link.called_at and link.result_at
    ]
    if calls:
        reply["call_wall"] = max(calls)  # measured here: the student's clocks cannot bend it
    found = _read_findings(outdir)
    reply[FINDINGS] = [f for f in found if f.get("kind") != "tampering"]
    # a "tampering" finding is a forger's now (the hook sends its own over the evidence line)
    tampering += [f for f in found if f.get("kind") == "tampering"]
    reply["work_items"] = workitems.read(outdir, own_cpu, items_key)
    del reply["own_cpu"]
    if tampering:
        reply["tampering"] = _once_each(tampering)
    _summarise(reply, results, request, timed_out, expected, bool(wrapper))
    wrappers.collect(reply, logs)
    first_call = min((link.called_at for link in board.links if link.called_at), default=0.0)
    last_result = max((link.result_at for link in board.links if link.result_at), default=0.0)
    reply["phases"] = {
        "spawn": t_spawned - t0,
        "start": first_call - t_spawned if first_call else None,
        "call": last_result - first_call if first_call and last_result else None,
        "exit": max(0.0, t_exit - (last_result or t_spawned)),
        "collect": time.monotonic() - t_exit,
    }
    return reply


def _results(board: channel.Switchboard) -> tuple[list[dict], list[dict]]:
    """Each agent's result (a crash where its line cannot be believed), and the evidence of
    tampering the switchboard saw (the agents' audit hooks send theirs over the evidence line)."""
    board.settle()  # the agents are dead: their last bytes are on their way
    results: list[AgentResult] = []
    tampering: list[dict] = [{"event": "channel", "what": why} for why in board.refused[:10]]
    for link in board.links:
        if link.problem:
            tampering.append({"event": "channel", "what": link.problem})
            results.append(
                AgentResult.crashed(
                    f"the agent's report to the grader could not be believed: {link.problem} (only "
                    "the student's code could have done that)",
                    tampered=True,
                )
            )
            continue
        if link.result is None:
            continue  # died before reporting: the exit code tells
        result = _read_result(link.result)
        if result.evidence_lost:
            tampering.append({"event": "evidence-line", "what": evidence.LOST})
        results.append(result)
    results.sort(key=lambda r: r.rank if type(r.rank) is int else 1 << 30)
    return [r.to_wire() for r in results], tampering


def _once_each(items: list[dict]) -> list[dict]:
    """The evidence in order, each piece once (a line cut is said by both its ends)."""
    seen, out = set(), []
    for item in items:
        key = json.dumps(item, sort_keys=True)
        if key not in seen:
            seen.add(key)
            out.append(item)
    return out


def _read_result(line: bytes) -> AgentResult:
    """An agent's result line, parsed strictly (capped, no unbounded recursion); one that cannot
    be read or is malformed is the student's crash."""
    try:
        data = untrusted.clean(
            json.loads(line),
            max_depth=RESULT_DEPTH,
            max_items=20_000_000,
            max_len=20_000_000,
            max_str=channel.MAX_RESULT,
        )
    except (ValueError, RecursionError) as exc:
        return AgentResult.crashed(f"its result could not be read ({exc})")
    try:
        return AgentResult.parse(data)
    except MalformedMessage as exc:
        return AgentResult.crashed(
            f"its result is malformed ({exc}): only the student's code could have changed it",
            tampered=True,
        )


def _runnable(pids) -> set[int]:
    """Thread ids of these processes in state R (running or waiting for a CPU)."""
    found = set()
    for pid, tid in tasks.threads(pids):
        data = tasks.read(pid, tid, "stat")
        if data and data[data.rfind(b")") + 2 : data.rfind(b")") + 3] == b"R":
            found.add(tid)
    return found


def running_threads(pids, snapshots: int = 5, gap: float = 0.02) -> int:
    """Threads runnable in most of a few snapshots: a busy loop is, a deadlocked thread (asleep
    on a lock, or waking now and then to poll) is not, however loaded the machine is."""
    counts: dict[int, int] = {}
    for i in range(snapshots):
        for tid in _runnable(pids):
            counts[tid] = counts.get(tid, 0) + 1
        if i < snapshots - 1:
            time.sleep(gap)
    return sum(1 for c in counts.values() if c > snapshots // 2)


class HangFindings:
    """Notices a finding that proves the run will hang (`HANG_KINDS`), so the run is stopped
    then instead of at its timeout. The files are the student's: only their sizes are watched
    and a fixed byte string searched for; a forged finding can only stop the forger's own run
    early with the verdict it claims (such a finding is charged whether or not the run ends)."""

    EVERY = 5  # polls between looks

    def __init__(self, outdir: str):
        self.outdir, self.polls = outdir, 0
        self.sizes: dict[str, int] = {}

    def hang_reported(self) -> bool:
        self.polls += 1
        if self.polls % self.EVERY:
            return False
        for path in sorted(glob.glob(os.path.join(self.outdir, "findings-*.jsonl")))[
            :MAX_STACK_FILES
        ]:
            try:
                size = os.lstat(path).st_size
            except OSError:
                continue
            if size == self.sizes.get(path):
                continue
            self.sizes[path] = size
            got = read_untrusted(path, MAX_FINDINGS_BYTES)
            if got and any(b'"kind": "%s"' % kind.encode() in got[0] for kind in HANG_KINDS):
                return True
        return False


def _read_findings(outdir: str, limit: int = 100) -> list[dict]:
    """What checks reported while running (see grader.checks.findings), even if the run hung."""
    found = []
    for path in sorted(glob.glob(os.path.join(outdir, "findings-*.jsonl")))[:MAX_STACK_FILES]:
        got = read_untrusted(path, MAX_FINDINGS_BYTES)
        if got is None:
            continue
        for line in got[0].decode("utf-8", "replace").splitlines()[:limit]:
            try:
                item = json.loads(line)
            except (ValueError, RecursionError):
                continue
            if isinstance(item, dict):
                found.append(untrusted.clean(item, max_depth=6, max_len=200, max_str=2000))
    return found[:limit]


def _kill_hang(
    outdir: str, workdir: str, samples, sources, user: dict | None, proof: dict | None = None
) -> dict:
    """Measure the stall, ask every armed process for its stacks, kill the whole tree, and only
    then read what the processes wrote (nothing of theirs runs while we parse). With a `proof`
    (`stuck`: every thread waits for good) the stall needs no measuring: no thread ran while
    it was taken, so no CPU was used and none is running -- unless the proof says the
    processes wait busily (standard-mode MPI: MPICH polls), when it is measured as for a
    timeout."""
    me = os.getpid()
    tree = descendants(me)
    ratio: float | None
    if proof is not None and not proof.get("busy"):
        running, ratio = 0, 0.0
    else:
        # busy or blocked: looked at before anything is stopped (a stopped and continued thread
        # is runnable for a moment); a bomb of processes is busy by definition, and not looked at
        running = running_threads(tree) if len(tree) <= 4 * MAX_STACK_FILES else len(tree)
        _signal_all(tree, signal.SIGSTOP)  # freeze the tree: the stall measure must not move now
        end_t, end_cpu = samples[-1]
        start = next(
            ((t, c) for t, c in reversed(samples) if t <= end_t - STALL_WINDOW), samples[0]
        )
        span = end_t - start[0]
        ratio = (end_cpu - start[1]) / span if span > 0.2 else None
        _signal_all(tree, signal.SIGCONT)
    armed = [
        p
        for p in sorted(tree)[: 4 * MAX_STACK_FILES]
        if os.path.exists(os.path.join(outdir, f"stacks-{p}.txt"))
    ][:MAX_STACK_FILES]
    _signal_all(armed, signal.SIGUSR1)  # only processes with faulthandler armed
    if proof is None:
        time.sleep(0.3)
    else:
        _await_dumps(outdir, armed)
    _kill_tree(me, user=user)
    stacks = []
    for pid in armed:
        got = read_untrusted(os.path.join(outdir, f"stacks-{pid}.txt"), MAX_STACK_BYTES)
        threads = (
            parse_faulthandler(got[0].decode("utf-8", "replace"), workdir, sources) if got else []
        )
        if threads:
            stacks.append({"pid": pid, "threads": untrusted.clean(threads, max_depth=6)})
    reply: dict = {
        "timed_out": True,
        STALL_CPU_RATIO: ratio,
        "running_threads": running,
        "stacks": stacks,
    }
    if proof is not None:
        reply["deadlock_proof"] = proof
    return reply


def _await_dumps(outdir: str, pids: list[int], limit: float = 0.3) -> None:
    """Wait until every process asked for its stacks has written them (each file non-empty
    and the same size two looks in a row), at most `limit` seconds: the threads of a stuck tree
    are asleep, so faulthandler's handler runs at once in each."""
    end, last = time.monotonic() + limit, None
    while time.monotonic() < end:
        time.sleep(0.01)
        sizes = []
        for pid in pids:
            try:
                sizes.append(os.lstat(os.path.join(outdir, f"stacks-{pid}.txt")).st_size)
            except OSError:
                sizes.append(0)
        if all(sizes) and sizes == last:
            return
        last = sizes


def _summarise(
    reply: dict,
    results: list[dict],
    request: Request,
    timed_out: bool,
    expected: int,
    wrapped: bool,
) -> None:
    ranks = request.ranks
    if ranks:
        reply["ranks"] = results
    elif results:
        result = results[0]
        for key in (
            "value",
            "exception",
            "checks",
            "leftover_threads",
            "leaked_shared_memory",
            "agent_wall",
            "message",
            "tampered",
        ):
            if key in result:
                reply[key] = result[key]
    statuses = [r.get("status", Status.CRASHED) for r in results]
    code = reply["exit_code"]
    if timed_out:
        reply["status"] = Status.TIMEOUT
    elif ranks and len(results) < ranks:
        reply["status"] = Status.CRASHED
        reply["message"] = f"only {len(results)} of {ranks} ranks finished"
    elif not results:
        reply["status"] = Status.CRASHED
        if code is not None and code < 0:
            reply["signal"] = untrusted.signal_name(-code)
            reply["message"] = f"the Python process was killed by {reply['signal']}"
        else:
            reply["message"] = f"the Python process exited (code {code}) before the test finished"
    else:
        bad = [s for s in statuses if s != Status.OK]
        reply["status"] = bad[0] if bad else Status.OK
        if bad and "message" not in reply:
            reply["message"] = next((r.get("message") for r in results if r.get("message")), "")
        if not bad and not ranks and not wrapped and code != 0:
            reply["status"] = Status.CRASHED  # a result, then an unclean end: not the agent's doing
            reply["message"] = (
                f"the Python process ended with "
                f"{untrusted.signal_name(-code) if code and code < 0 else f'code {code}'}"
                " after reporting its result"
            )
        if ranks:
            reply["value"] = [r.get("value") for r in results]


def become_subreaper() -> None:
    """Orphans of the student's processes come to us (we are not PID 1 outside a container)."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    except OSError:
        pass
