"""The supervisor: runs one request inside the sandbox and judges the process tree from outside.

    python -I -m grader.agent.supervisor --submission DIR --workroot DIR REQUEST

It copies the submission into a fresh work directory, starts the agent (or
`mpiexec -n N` agents) -- as the student's own user when the request names one
(`agent_user`, in the Docker sandbox), so the student's code cannot signal,
trace or alter the supervisor -- and watches the whole process tree: wall-clock limit,
CPU time of every descendant (from the kernel, not from the student's
process, whose clocks a student can patch) with the most any single process used
(the *span*: work / span tells how many processes really shared the work, and
GIL-bound threads never exceed 1), the peak number of threads running at once,
all-thread stacks when it has to
kill a hang, CPU/wall during the stall (about 0 for a deadlock, about 1 per
busy thread for a busy-wait), and processes left running afterwards. It
prints one JSON reply line prefixed with `REPLY_MARK`.
"""

from __future__ import annotations

import argparse
import ctypes
import glob
import hashlib
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time

from grader.agent.frames import parse_faulthandler
from grader.agent import wrappers
from grader.agent.safeio import read_untrusted
from grader.sandbox.base import REPLY_MARK, STARTUP_SECONDS, decode_request

POLL = 0.02
STALL_WINDOW = 1.0
MAX_STACK_FILES = 16  # processes whose stacks are reported after a hang
PEAK_EVERY = 5  # polls between counts of running threads (peak concurrency)
MAX_RESULT_BYTES = 64 * 2**20  # a result file larger than this is the student's fault
MAX_STACK_BYTES = 256 * 1024
MAX_FINDINGS_BYTES = 1_000_000
# What an agent may say about its run; anything else (e.g. a forged "sandbox-error", which
# would blame the platform) makes the result malformed, and so the student's fault.
AGENT_STATUSES = ("ok", "exception", "import-error", "missing")
CLK_TCK = os.sysconf("SC_CLK_TCK")
PR_SET_CHILD_SUBREAPER = 36


# ---------------------------------------------------------------- process tree

def _proc_stat(pid: int) -> tuple[int, tuple[float, float]] | None:
    """(parent pid, (own CPU seconds, CPU seconds of its reaped children)) from /proc."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            data = f.read()
    except OSError:
        return None
    fields = data[data.rfind(")") + 2:].split()
    ppid = int(fields[1])
    utime, stime, cutime, cstime = (int(x) for x in fields[11:15])
    return ppid, ((utime + stime) / CLK_TCK, (cutime + cstime) / CLK_TCK)


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
    out, todo = {}, list(children.get(root, []))
    while todo:
        pid = todo.pop()
        out[pid] = table[pid][1]
        todo.extend(children.get(pid, []))
    return out


def _cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            text = f.read().replace(b"\0", b" ").decode(errors="replace").strip()[:200]
    except OSError:
        return "?"
    return text or "<a child process that exited but was never joined>"


# Helper processes of multiprocessing that exit on their own once the agent has exited.
PLATFORM_HELPERS = ("multiprocessing.resource_tracker", "multiprocessing.forkserver")


def _leftovers(root: int) -> dict[int, str]:
    """Every process still alive under `root`, by pid, with its command line."""
    return {pid: _cmdline(pid) for pid in descendants(root)}


def _students_leftovers(left: dict[int, str], results: list[dict]) -> list[str]:
    """The leftovers that are the student's: multiprocessing's helpers are known by name, or by
    the pids the agents reported (a helper caught exiting has no command line left to read)."""
    helpers = {pid for r in results for pid in r.get("platform_helpers") or [] if isinstance(pid, int)}
    return [name for pid, name in left.items()
            if pid not in helpers and not any(h in name for h in PLATFORM_HELPERS)]


def _calls_started(outdir: str) -> int:
    try:
        return sum(1 for name in os.listdir(outdir) if name.startswith("called-"))
    except OSError:
        return 0


def _signal_all(pids, sig) -> None:
    for pid in pids:
        try:
            os.kill(pid, sig)
        except OSError:
            pass


def _kill_tree(root: int, deadline: float = 3.0) -> None:
    """SIGKILL every descendant until none is left (a fork bomb keeps forking meanwhile)."""
    end = time.monotonic() + deadline
    while True:
        tree = descendants(root)
        if not tree or time.monotonic() > end:
            return
        _signal_all(tree, signal.SIGKILL)
        _reap()


def _reap() -> None:
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


# ---------------------------------------------------------------- the run

def _rlimits(request: dict):
    limits = request.get("limits", {})

    def apply():
        os.setsid()
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        cpu = int(limits.get("cpu_seconds", 60)) + 1
        resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
        disk = int(limits.get("disk_mb", 64)) * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_FSIZE, (disk, disk))
        if request.get("rlimit_memory"):
            mem = max(int(limits.get("memory_mb", 512)), 256) * 4 * 1024 * 1024
            resource.setrlimit(resource.RLIMIT_AS, (mem, mem))
        if request.get("rlimit_pids") and os.geteuid() != 0:
            pids = int(limits.get("pids", 256))
            soft, hard = resource.getrlimit(resource.RLIMIT_NPROC)
            resource.setrlimit(resource.RLIMIT_NPROC, (pids, hard))
        os.nice(5)  # a fork bomb must not starve the supervisor of the CPU it needs to kill it
        if request.get("agent_user"):
            _become(request["agent_user"])  # the student cannot signal or trace us
    return apply


def _argv(request: dict, outdir: str) -> list[str]:
    agent = [sys.executable, "-I", "-m", "grader.agent.agent", outdir]
    ranks = int(request.get("ranks") or 0)
    if not ranks:
        return agent
    bindir = os.path.dirname(sys.executable)
    mpiexec = shutil.which("mpiexec", path=bindir + os.pathsep + os.environ.get("PATH", ""))
    if not mpiexec:
        raise RuntimeError("mpiexec is not installed in the sandbox")
    return [mpiexec, "-n", str(ranks), *agent]


def _env(workdir: str) -> dict:
    env = {
        "PATH": os.path.dirname(sys.executable) + ":/usr/local/bin:/usr/bin:/bin",
        "HOME": workdir,
        "LANG": "C.UTF-8",
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONUNBUFFERED": "1",
        "OMP_NUM_THREADS": "1",
        "OPENBLAS_NUM_THREADS": "1",
        "MPIR_CVAR_CH4_CMA_ENABLE": "0",  # MPICH under Docker's default seccomp
        "HYDRA_LAUNCHER": "fork",
        "TMPDIR": workdir,
    }
    for key in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"):
        if key in os.environ:
            env[key] = os.environ[key]
    return env


def _read_capped(path: str, limit: int) -> tuple[str, int]:
    got = read_untrusted(path, limit)
    if got is None:
        return "", 0
    return got[0].decode("utf-8", "replace"), got[1]


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


def _as_user(user: dict | None, fn) -> None:
    """Run `fn()` in a child process as the student (so it can touch the student's files)."""
    if not user:
        fn()
        return
    pid = os.fork()
    if pid == 0:
        try:
            _become(user)
            fn()
        finally:
            os._exit(0)
    os.waitpid(pid, 0)


def _become(user: dict) -> None:
    os.setgroups([])
    os.setgid(int(user["gid"]))
    os.setuid(int(user["uid"]))


def _remove_run(rundir: str, user: dict | None) -> None:
    """Delete a run folder, whatever modes the student's code set on its own files."""
    def unlock_and_remove():
        for root, dirs, _ in os.walk(rundir):
            for d in dirs:
                try:
                    os.chmod(os.path.join(root, d), 0o700)
                except OSError:
                    pass
        for sub in ("work", "out"):
            shutil.rmtree(os.path.join(rundir, sub), ignore_errors=True)
    _as_user(user, unlock_and_remove)
    shutil.rmtree(rundir, ignore_errors=True)


def _prepare(submission: str, workroot: str, request: dict) -> tuple[str, str, str]:
    """A fresh run folder: `work/` (a copy of the submission, the student's current directory)
    and `out/` (request, results, stacks), both owned by the student when it runs as its own
    user; the folder itself and the output files stay the supervisor's."""
    rundir = tempfile.mkdtemp(prefix="run-", dir=workroot)
    os.chmod(rundir, 0o755)
    workdir, outdir = os.path.join(rundir, "work"), os.path.join(rundir, "out")
    _copy_submission(submission, workdir)
    os.mkdir(outdir, 0o755)
    with open(os.path.join(outdir, "request.json"), "w") as f:
        json.dump(request, f)
    user = request.get("agent_user")
    if user:
        _chown_tree(workdir, int(user["uid"]), int(user["gid"]))
        os.lchown(outdir, int(user["uid"]), int(user["gid"]))
    return rundir, workdir, outdir


def supervise(submission: str, workroot: str, request: dict) -> dict:
    rundir, workdir, outdir = _prepare(submission, workroot, request)
    wrapper, logs = wrappers.prepare(request, rundir)  # Oclgrind, compute-sanitizer
    timeout = float(request.get("timeout", 10))
    out_limit = int(request.get("limits", {}).get("output_kb", 64)) * 1024
    stdout = open(os.path.join(rundir, "stdout.txt"), "wb")
    stderr = open(os.path.join(rundir, "stderr.txt"), "wb")
    usage0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.monotonic()
    read_end, write_end = os.pipe()
    env = {**_env(workdir), "PGRADER_RESULT_FD": str(write_end)}
    proc = subprocess.Popen([*wrapper, *_argv(request, outdir)], cwd=workdir, env=env,
                            stdin=subprocess.DEVNULL, stdout=stdout, stderr=stderr,
                            preexec_fn=_rlimits(request), pass_fds=(write_end,))
    os.close(write_end)
    samples: list[tuple[float, float]] = []
    own_cpu: dict[int, float] = {}  # the most CPU each process was seen to use itself
    peak_running, polls = 0, 0
    timed_out = False
    expected_calls = max(1, int(request.get("ranks") or 0))
    deadline = t0 + timeout + STARTUP_SECONDS  # until every rank has started the call
    called = False
    while proc.poll() is None:
        now = time.monotonic()
        tree = descendants(os.getpid())
        samples.append((now, sum(own + reaped for own, reaped in tree.values())))
        for pid, (own, _) in tree.items():
            own_cpu[pid] = max(own, own_cpu.get(pid, 0.0))
        if polls % PEAK_EVERY == 0:
            peak_running = max(peak_running, len(_runnable(tree)))
        polls += 1
        if not called and _calls_started(outdir) >= expected_calls:
            called, deadline = True, now + timeout
        if now > deadline:
            timed_out = True
            break
        time.sleep(POLL)
    wall = time.monotonic() - t0
    reply: dict = {"wall": wall, "span": max(own_cpu.values(), default=0.0),
                   "processes": len(own_cpu), "peak_running": peak_running}
    if timed_out:
        reply.update(_kill_hang(outdir, workdir, samples))
    else:
        # Anything still alive now was left behind by the student's code.
        left = _leftovers(os.getpid())
        _kill_tree(os.getpid())
    proc.wait()
    time.sleep(0.01)
    _reap()
    usage1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    reply["cpu"] = (usage1.ru_utime + usage1.ru_stime) - (usage0.ru_utime + usage0.ru_stime)
    reply["exit_code"] = proc.returncode
    reply["stdout"], reply["stdout_truncated"] = _read_capped(stdout.name, out_limit)
    reply["stderr"], reply["stderr_truncated"] = _read_capped(stderr.name, out_limit)
    results = _read_results(outdir, _read_digests(read_end))
    if not timed_out:
        reply["leftover_processes"] = _students_leftovers(left, results)[:20]
        if not reply["leftover_processes"]:
            del reply["leftover_processes"]
    reply["findings"] = _read_findings(outdir)
    _summarise(reply, results, request, timed_out)
    wrappers.collect(reply, logs)
    _remove_run(rundir, request.get("agent_user"))
    return reply


def _runnable(pids) -> set[int]:
    """Thread ids of these processes in state R (running or waiting for a CPU)."""
    found = set()
    for pid in pids:
        try:
            tasks = os.listdir(f"/proc/{pid}/task")
        except OSError:
            continue
        for tid in tasks:
            try:
                with open(f"/proc/{pid}/task/{tid}/stat") as f:
                    data = f.read()
            except OSError:
                continue
            if data[data.rfind(")") + 2] == "R":
                found.add(int(tid))
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


def _read_digests(fd: int) -> dict[int, str]:
    """rank -> sha256 of its result file, as each agent reported it through the pipe (all
    writers are dead by now, so this reads to the end without blocking)."""
    os.set_blocking(fd, False)
    data = b""
    while True:
        try:
            chunk = os.read(fd, 65536)
        except BlockingIOError:
            break
        if not chunk:
            break
        data += chunk
    os.close(fd)
    digests: dict[int, str] = {}
    for line in data.decode(errors="replace").splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[0].isdigit():
            digests.setdefault(int(parts[0]), parts[1])  # the first report of a rank counts
    return digests


def _read_findings(outdir: str, limit: int = 100) -> list[dict]:
    """What checks reported while running (see grader.checks.findings), even if the run hung."""
    found = []
    for path in sorted(glob.glob(os.path.join(outdir, "findings-*.jsonl")))[:MAX_STACK_FILES]:
        got = read_untrusted(path, MAX_FINDINGS_BYTES)
        if got is None:
            continue
        for line in got[0].decode("utf-8", "replace").splitlines():
            try:
                item = json.loads(line)
            except (ValueError, RecursionError):
                continue
            if isinstance(item, dict):
                found.append(item)
    return found[:limit]


def _read_results(outdir: str, digests: dict[int, str]) -> list[dict]:
    results = []
    for rank in sorted(digests):
        try:
            got = read_untrusted(os.path.join(outdir, f"result-{rank}.json"), MAX_RESULT_BYTES)
            if got is None:
                raise ValueError("it is not a regular file")
            data, left = got
            if left:
                raise ValueError(f"it is larger than {MAX_RESULT_BYTES // 2**20} MB")
            if hashlib.sha256(data).hexdigest() != digests[rank]:
                raise ValueError("changed after the agent wrote it")
            result = json.loads(data)
            if not isinstance(result, dict) or result.get("status") not in AGENT_STATUSES:
                raise ValueError("it is malformed")
            results.append(result)
        except (OSError, ValueError, RecursionError) as exc:
            results.append({"rank": rank, "status": "crashed",
                            "message": f"its result could not be read back ({exc}); a process "
                                       "left running may have overwritten it"})
    return results


def _kill_hang(outdir: str, workdir: str, samples) -> dict:
    tree = descendants(os.getpid())
    running = running_threads(tree)
    _signal_all(tree, signal.SIGSTOP)  # freeze the tree: the stall measure must not move now
    end_t, end_cpu = samples[-1]
    start = next(((t, c) for t, c in reversed(samples) if t <= end_t - STALL_WINDOW), samples[0])
    span = end_t - start[0]
    ratio = (end_cpu - start[1]) / span if span > 0.2 else None
    armed = [p for p in tree if os.path.exists(os.path.join(outdir, f"stacks-{p}.txt"))]
    _signal_all(armed, signal.SIGUSR1)  # only processes with faulthandler armed
    _signal_all(tree, signal.SIGCONT)
    time.sleep(0.3)
    stacks = []
    for pid in sorted(armed)[:MAX_STACK_FILES]:
        got = read_untrusted(os.path.join(outdir, f"stacks-{pid}.txt"), MAX_STACK_BYTES)
        threads = parse_faulthandler(got[0].decode("utf-8", "replace"), workdir) if got else []
        if threads:
            stacks.append({"pid": pid, "threads": threads})
    _kill_tree(os.getpid())
    return {"timed_out": True, "stall_cpu_ratio": ratio, "running_threads": running,
            "stacks": stacks}


def _summarise(reply: dict, results: list[dict], request: dict, timed_out: bool) -> None:
    ranks = int(request.get("ranks") or 0)
    if ranks:
        reply["ranks"] = results
    elif results:
        result = results[0]
        for key in ("value", "exception", "checks", "leftover_threads", "leaked_shared_memory",
                    "agent_wall", "message"):
            if key in result:
                reply[key] = result[key]
    statuses = [r.get("status", "crashed") for r in results]
    if timed_out:
        reply["status"] = "timeout"
    elif ranks and len(results) < ranks:
        reply["status"] = "crashed"
        reply["message"] = f"only {len(results)} of {ranks} ranks finished"
    elif not results:
        reply["status"] = "crashed"
        code = reply["exit_code"]
        if code is not None and code < 0:
            reply["signal"] = signal.Signals(-code).name
            reply["message"] = f"the Python process was killed by {signal.Signals(-code).name}"
        else:
            reply["message"] = f"the Python process exited (code {code}) before the test finished"
    else:
        bad = [s for s in statuses if s != "ok"]
        reply["status"] = bad[0] if bad else "ok"
        if ranks:
            reply["value"] = [r.get("value") for r in results]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--submission", required=True)
    parser.add_argument("--workroot", required=True)
    parser.add_argument("request")
    args = parser.parse_args()
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)  # orphans of the student come to us
    except OSError:
        pass
    try:
        reply = supervise(args.submission, args.workroot, decode_request(args.request))
    except Exception as exc:  # noqa: BLE001 - the reply must always come
        reply = {"status": "sandbox-error", "message": f"supervisor failed: {exc!r}"}
    sys.stdout.write(REPLY_MARK + json.dumps(reply) + "\n")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
