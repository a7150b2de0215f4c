"""The agent: runs inside the sandbox, as the student, one request per process.

Started by the supervisor as `python -I -m grader.agent.bootstrap` (one process, or one per MPI
rank), it connects to the supervisor's socket and receives its request there (see `channel`:
nothing about the request is ever in a file, an argument or the environment). Then, before the
student's module is imported, it makes its process non-dumpable (its memory and /proc entries
are closed to the student's other processes), starts the requested checks, installs the audit
hook (`audit`) and hides the grader's modules from `sys.modules`; it imports the student's module
from the current directory, calls the requested function or probe, and sends the result back as
one signed frame. Everything it sends is plain data (see `codec`). The supervisor, not the
agent, decides about time limits and hangs.
"""

from __future__ import annotations

import faulthandler
import importlib
import os
import signal
import sys
import threading
import time

from grader.agent import audit, channel, codec, integrity
from grader.agent.frames import exception_record
from grader.checks import codeclass, findings, locks, lockset

STACKS_ENV = "PGRADER_STACKS_DIR"
_exit = os._exit  # bound before the student's code could rebind os._exit
PROBE_FILE = codeclass.PROBE_FILE
VISIBLE = ("grader.checks.workitems",)  # grader modules the student's processes may import
_stack_files: list = []


def _arm_stack_dump(outdir: str) -> None:
    """On SIGUSR1, dump every thread's stack to OUTDIR/stacks-<pid>.txt, also in the student's
    forked children, and in spawned ones (they re-import the bootstrap module as `__mp_main__`,
    see `child`; the folder travels in the environment)."""
    def arm():
        f = open(os.path.join(outdir, f"stacks-{os.getpid()}.txt"), "w")
        _stack_files.append(f)
        faulthandler.register(signal.SIGUSR1, file=f, all_threads=True)
    arm()
    os.register_at_fork(after_in_child=arm)
    os.environ[STACKS_ENV] = outdir


SHM_DIR = "/dev/shm"


def _shared_memory() -> dict[str, int]:
    """POSIX shared-memory segments of this user: name -> size in bytes."""
    found = {}
    try:
        with os.scandir(SHM_DIR) as entries:
            for e in entries:
                try:
                    st = e.stat(follow_symlinks=False)
                except OSError:
                    continue
                if e.is_file(follow_symlinks=False) and st.st_uid == os.getuid():
                    found[e.name] = st.st_size
    except OSError:
        pass
    return found


def _leaked_shared_memory(before: dict[str, int]) -> list[dict]:
    """Segments created during the request and still there: never unlinked (the
    resource tracker would remove them at exit, hiding the leak; a real program leaks them)."""
    now = _shared_memory()
    return [{"name": n[:100], "bytes": size} for n, size in sorted(now.items())
            if n not in before][:20]


def _rank(request: dict) -> int:
    if not request.get("ranks"):
        return 0
    from grader.checks import mpi_setup  # imports mpi4py, applies strict mode if asked
    return mpi_setup.init(request.get("mpi", {}))


def _target(request: dict, module):
    if request["kind"] == "call":
        fn = getattr(module, request["function"], None)
        if fn is None:
            raise _Missing(request["function"], module.__name__)
        return fn, False
    namespace: dict = {"__name__": "grader_probe"}
    code = compile(request["probe"]["source"], PROBE_FILE, "exec")
    codeclass.trust(code)  # the hidden test's code: the grader's, whatever it calls
    exec(code, namespace)
    return namespace[request["probe"]["name"]], True


class _Missing(Exception):
    def __init__(self, name, module):
        super().__init__(f"{module}.py defines no '{name}'")


def _stop(check, stop, changed: list[str]) -> dict:
    """A check's report, from its own `stop` as it was before the student's code ran; a check
    the student's code broke or tampered with reports that it could not run, and why."""
    try:
        report = stop(check)
    except Exception as exc:  # noqa: BLE001
        return {"intact": False, "error": f"{type(exc).__name__}: {exc}"[:500]}
    if changed and isinstance(report, dict):
        report = {**report, "intact": False, "tampered": changed[:5]}
    return report


def _platform_helpers() -> list[int]:
    """Pids of multiprocessing's own helper processes (resource tracker, fork server): they exit
    once this process has, so the supervisor must not count them as the student's leftovers."""
    found = []
    tracker = sys.modules.get("multiprocessing.resource_tracker")
    forkserver = sys.modules.get("multiprocessing.forkserver")
    if tracker is not None:
        found.append(getattr(getattr(tracker, "_resource_tracker", None), "_pid", None))
    if forkserver is not None:
        found.append(getattr(getattr(forkserver, "_forkserver", None), "_forkserver_pid", None))
    return [pid for pid in found if isinstance(pid, int)]


def _undumpable() -> None:
    """No core dumps, no ptrace, /proc/<pid>/{mem,environ,fd} owned by root: this process's
    memory (its key among it) is closed to the student's other processes."""
    import ctypes

    PR_SET_DUMPABLE = 4
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)


def _hide_grader() -> dict:
    """Take the grader's live modules out of `sys.modules` (the student's `import grader...`
    would get a fresh copy, with none of the checks' state; the audit hook refuses it anyway)."""
    hidden = {name: mod for name, mod in sys.modules.items()
              if (name == "grader" or name.startswith("grader.")) and name not in VISIBLE}
    for name in hidden:
        del sys.modules[name]
    return hidden


def _tracer_hooks() -> list:
    """The trace functions our checks installed (threading re-installs them in new threads)."""
    from grader.checks import tracing
    return [tracing.hook()] if tracing.hook() is not None else []


def _tampering(item: dict) -> None:
    """Evidence of tampering, at once, into the process's findings file (it survives a crash or
    a hang; the output folder is closed to the student's code). Nothing here leads to the
    agent's line: the audit hook's graph must not lead the student to the key."""
    findings.report("tampering", **item)


def run(request: dict, line: channel.AgentLine) -> dict:
    workdir = os.getcwd()
    outdir, rundir = request["outdir"], request["rundir"]
    _arm_stack_dump(outdir)
    from grader.checks import start_checks

    findings.set_outdir(outdir)
    rank = _rank(request)
    result: dict = {"rank": rank}
    locks.install(workdir)  # in every request: checked and plain runs look alike
    lockset.patch_threads()
    checks = start_checks(request.get("checks") or {}, workdir)
    if request.get("start_method"):
        import multiprocessing

        multiprocessing.set_start_method(request["start_method"], force=True)
    sys.path.append(workdir)
    shm_before = _shared_memory()
    policy = audit.Policy(workdir, rundir, report=_tampering, allowed_hooks=_tracer_hooks())
    stops = [(check, type(check).stop) for check in checks]  # the methods as they are now
    snapshot = integrity.Snapshot(checks)
    hidden = _hide_grader()
    audit.install(policy)
    try:
        try:
            module = importlib.import_module(request["module"])
        except BaseException as exc:  # noqa: BLE001 - any failure to import is the student's
            result.update(status="import-error", exception=exception_record(exc, workdir))
            return result
        lockset.watch_student_classes(workdir)  # in every request, like the tracked locks
        try:
            fn, is_probe = _target(request, module)
            args = codec.decode(request.get("args", []))
            kwargs = codec.decode(request.get("kwargs", {"__dict__": []}))
            line.called()  # the timeout starts now
            t0 = time.perf_counter()
            value = fn(module, *args, **kwargs) if is_probe else fn(*args, **kwargs)
            result["agent_wall"] = time.perf_counter() - t0
        except _Missing as exc:
            result.update(status="missing", exception={"type": "AttributeError", "message": str(exc),
                                                       "frames": []})
            return result
        except BaseException as exc:  # noqa: BLE001 - SystemExit from student code included
            result.update(status="exception", exception=exception_record(exc, workdir))
            return result
        try:
            result["value"] = codec.encode(value)
            result["status"] = "ok"
        except codec.EncodeError as exc:
            result.update(status="exception", exception={"type": "ValueError", "message": str(exc),
                                                         "frames": []})
        return result
    finally:
        changed = snapshot.changes()
        for change in changed:
            _tampering({"event": "replaced", "what": f"{change} (by the student's code)"})
        result["checks"] = {check.name: _stop(check, stop, changed) for check, stop in stops}
        sys.modules.update(hidden)
        result["platform_helpers"] = _platform_helpers()
        leaked = _leaked_shared_memory(shm_before)
        if leaked:
            result["leaked_shared_memory"] = leaked
        result["leftover_threads"] = [
            {"name": str(t.name)[:100], "daemon": bool(t.daemon)}
            for t in threading.enumerate()
            if t is not threading.main_thread() and t.is_alive()
        ][:20]


def main() -> None:
    line = channel.connect(os.environ.pop(channel.ENV))
    _undumpable()
    result = run(line.request, line)
    line.result(result)
    sys.stdout.flush()
    sys.stderr.flush()
    if result.get("rank") is not None and "mpi4py.MPI" in sys.modules:
        from grader.checks import mpi_setup
        mpi_setup.finalize()
    _exit(0)  # leftover non-daemon threads must not keep the process alive


def child() -> None:
    """In a child the student's code spawned (multiprocessing's spawn or forkserver): the same
    stack dumps and audit hook as in the agent, before the student's code is unpickled."""
    outdir = os.environ.get(STACKS_ENV)
    if not outdir:
        return
    _arm_stack_dump(outdir)
    _undumpable()
    findings.set_outdir(outdir)
    _hide_grader()
    audit.install(audit.Policy(os.getcwd(), os.path.dirname(outdir), report=_tampering))
