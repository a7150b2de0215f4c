"""The agent: runs inside the sandbox, as the student, one request per process.

`python -I -m grader.agent.agent OUTDIR` reads `OUTDIR/request.json`, imports
the student's module from the current directory, calls the requested function
or probe under the requested checks, and writes `OUTDIR/result-<rank>.json`.
Everything it writes is plain data (see `codec`). The supervisor, not the
agent, decides about time limits and hangs.
"""

from __future__ import annotations

import faulthandler
import hashlib
import importlib
import json
import os
import signal
import sys
import threading
import time

from grader.agent import codec
from grader.agent.frames import exception_record

_stack_files: list = []


def _arm_stack_dump(outdir: str) -> None:
    """On SIGUSR1, dump every thread's stack to OUTDIR/stacks-<pid>.txt, also in the student's
    forked children, and in spawned ones (they re-import this module as `__mp_main__`, see the
    end of this file; the folder travels in the environment)."""
    def arm():
        f = open(os.path.join(outdir, f"stacks-{os.getpid()}.txt"), "w")
        _stack_files.append(f)
        faulthandler.register(signal.SIGUSR1, file=f, all_threads=True)
    arm()
    os.register_at_fork(after_in_child=arm)
    os.environ["PGRADER_STACKS_DIR"] = outdir


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
    exec(compile(request["probe"]["source"], "<grader probe>", "exec"), namespace)
    return namespace[request["probe"]["name"]], True


class _Missing(Exception):
    def __init__(self, name, module):
        super().__init__(f"{module}.py defines no '{name}'")


def _take_result_fd() -> int:
    """The write end of the supervisor's result pipe, kept from the student's child processes:
    closed in forked children and on exec, so a child left running cannot report for us."""
    fd = int(os.environ.pop("PGRADER_RESULT_FD"))
    os.set_inheritable(fd, False)
    os.register_at_fork(after_in_child=lambda: _close(fd))
    return fd


def _close(fd: int) -> None:
    try:
        os.close(fd)
    except OSError:
        pass


def _write(outdir: str, rank: int, result: dict, fd: int) -> None:
    """The result goes to a file; its digest goes through the pipe (one atomic line), so the
    supervisor only accepts the file this process wrote."""
    data = json.dumps(result).encode()
    path = os.path.join(outdir, f"result-{rank}.json")
    with open(path, "wb") as f:
        f.write(data)
    os.write(fd, f"{rank} {hashlib.sha256(data).hexdigest()}\n".encode())


def _stop(check) -> dict:
    """A check's report; a check broken by the student's code reports that it could not run."""
    try:
        return check.stop()
    except Exception as exc:  # noqa: BLE001
        return {"intact": False, "error": f"{type(exc).__name__}: {exc}"[:500]}


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


def run(outdir: str) -> dict:
    workdir = os.getcwd()
    with open(os.path.join(outdir, "request.json")) as f:
        request = json.load(f)
    _arm_stack_dump(outdir)
    from grader.checks import findings

    findings.set_outdir(outdir)
    rank = _rank(request)
    result: dict = {"rank": rank}
    from grader.checks import start_checks

    checks = start_checks(request.get("checks") or {}, workdir)
    if request.get("start_method"):
        import multiprocessing

        multiprocessing.set_start_method(request["start_method"], force=True)
    sys.path.append(workdir)
    shm_before = _shared_memory()
    try:
        try:
            module = importlib.import_module(request["module"])
        except BaseException as exc:  # noqa: BLE001 - any failure to import is the student's
            result.update(status="import-error", exception=exception_record(exc, workdir))
            return result
        for check in checks:
            if hasattr(check, "after_import"):
                check.after_import(module)
        try:
            fn, is_probe = _target(request, module)
            args = codec.decode(request.get("args", []))
            kwargs = codec.decode(request.get("kwargs", {"__dict__": []}))
            open(os.path.join(outdir, f"called-{rank}"), "w").close()  # the timeout starts now
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
        result["checks"] = {c.name: _stop(c) for c in checks}
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
    outdir = sys.argv[1]
    fd = _take_result_fd()
    result = run(outdir)
    _write(outdir, result.get("rank", 0), result, fd)
    sys.stdout.flush()
    sys.stderr.flush()
    if result.get("rank") is not None and "mpi4py.MPI" in sys.modules:
        from grader.checks import mpi_setup
        mpi_setup.finalize()
    os._exit(0)  # leftover non-daemon threads must not keep the process alive


if __name__ == "__main__":
    main()
elif __name__ == "__mp_main__" and os.environ.get("PGRADER_STACKS_DIR"):
    _arm_stack_dump(os.environ["PGRADER_STACKS_DIR"])  # a child started with spawn/forkserver
