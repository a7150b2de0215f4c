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

from grader.agent import audit, channel, codec, evidence, integrity, launch
from grader.agent.frames import exception_record
from grader.agent.nodump import undumpable
from grader.checks import (
    codeclass,
    findings,
    holding,  # noqa: F401 - kept live for the probes (VISIBLE)
    locks,
    lockset,
    schedule,
    startmethod,  # noqa: F401 - kept live for the probes (VISIBLE)
    tracing,
    workitems,
)
from grader.protocol import AgentRequest, Status

STACKS_ENV = "PGRADER_STACKS_DIR"
_exit = os._exit  # bound before the student's code could rebind os._exit
_get_limit, _set_limit = sys.getrecursionlimit, sys.setrecursionlimit  # the same, for sys's
PROBE_FILE = codeclass.PROBE_FILE
VISIBLE = (  # grader modules the student's processes may import (for the probes only)
    "grader.checks.workitems",
    "grader.checks.holding",
    "grader.checks.startmethod",
)
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
    return [{"name": n[:100], "bytes": size} for n, size in sorted(now.items()) if n not in before][
        :20
    ]


_wait_board = None  # grader.checks.mpi_setup.WaitBoard in an MPI rank


def _rank(request: AgentRequest) -> int:
    if not request.ranks:
        return 0
    from grader.checks import mpi_calls, mpi_setup  # imports mpi4py, applies strict mode if asked

    global _wait_board
    _wait_board = mpi_setup.WaitBoard  # kept: the grader's modules leave sys.modules
    return mpi_setup.init(request.mpi, request.outdir, mpi_calls.watched)


def _probe_builtins() -> dict:
    """The built-ins the hidden test's probe runs with, taken before the student's module is
    imported: the student's code may rebind `len` or `time.perf_counter` for everyone, but not
    for the probe. Its `import time` gets a private copy of the time module as it was then (the
    checks' own patches included: a scheduled `sleep` stays scheduled)."""
    import builtins
    import types

    frozen_time = types.ModuleType("time", time.__doc__)
    frozen_time.__dict__.update(vars(time))
    real_import = builtins.__import__

    def probe_import(name, globals=None, locals=None, fromlist=(), level=0):
        if name == "time" and level == 0:
            return frozen_time
        return real_import(name, globals, locals, fromlist, level)

    return {**vars(builtins), "__import__": probe_import}


def _target(request: AgentRequest, module, probe_builtins: dict):
    if request.kind == "call":
        name = request.function or ""  # a call names its function (AgentRequest.parse)
        fn = getattr(module, name, None)
        if fn is None:
            raise _Missing(name, module.__name__)
        return fn, False
    probe = request.probe or {}
    namespace: dict = {"__name__": "grader_probe", "__builtins__": probe_builtins}
    code = compile(probe["source"], PROBE_FILE, "exec")
    codeclass.trust(code)  # the hidden test's code: the grader's, whatever it calls
    exec(code, namespace)
    return namespace[probe["name"]], True


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


def _threads_left() -> list[dict]:
    """The threads still alive besides the main one, read from their plain data only: a Thread
    subclass's `name`, `daemon` or `is_alive` is the student's code, and none of it may run
    once the call is over."""
    left = []
    # threading's own registries (private, not in typeshed): no Thread method of the student's runs
    registries = (threading._active, threading._limbo)  # type: ignore[attr-defined]
    for t in [t for registry in registries for t in list(registry.values())]:
        if t is threading.main_thread():
            continue
        state = vars(t)
        if state.get("_is_stopped") is True:
            continue
        name = state.get("_name")
        left.append(
            {
                "name": name[:100] if type(name) is str else "?",
                "daemon": state.get("_daemonic") is True,
            }
        )
    return left[:20]


# Bound before any student code runs: the student may rebind these in their modules.
_thread_states, _get_ident = sys._current_exceptions, threading.get_ident
_sleep, _monotonic = time.sleep, time.monotonic
UNLISTED_GRACE = 0.2  # seconds a thread that has just ended may keep its thread state
UNLISTED = "(a thread threading does not list: started with _thread, or taken out of its registry)"


def _unlisted_threads(own: set) -> int:
    """How many of the interpreter's threads are neither this one, nor a live thread of
    threading's registries, nor one of the checks' own (`own`). Every Python thread has a
    thread state, which `sys._current_exceptions()` lists whether or not a Python frame runs in
    it (`_current_frames()` leaves out a thread blocked in a C function from its start): threads
    started below threading
    (`_thread.start_new_thread`) or taken out of its registry are left running as surely as
    listed ones. Native threads of C libraries (an OpenCL runtime's) have no thread state and
    are not counted. A thread that has just ended may keep its state a moment: a short grace.
    (One started a moment before and not yet running carries its creator's ident until it
    runs: it has done nothing yet, and is not seen.)"""
    end = _monotonic() + UNLISTED_GRACE
    while True:
        listed = {_get_ident(), *own}
        for registry in (threading._active, threading._limbo):  # type: ignore[attr-defined]
            for t in list(registry.values()):
                try:
                    state = vars(t)
                except TypeError:
                    continue
                if state.get("_is_stopped") is not True:
                    listed.add(state.get("_ident"))
        unlisted = len(set(_thread_states()) - listed)
        if not unlisted or _monotonic() >= end:
            return unlisted
        _sleep(0.01)


def _hide_grader() -> dict:
    """Take the grader's live modules out of `sys.modules` (the student's `import grader...`
    would get a fresh copy, with none of the checks' state; the audit hook refuses it anyway)."""
    hidden = {
        name: mod
        for name, mod in sys.modules.items()
        if (name == "grader" or name.startswith("grader.")) and name not in VISIBLE
    }
    for name in hidden:
        del sys.modules[name]
    return hidden


def _tracer_hooks() -> list:
    """The trace functions our checks installed (threading re-installs them in new threads)."""
    return [tracing.hook()] if tracing.hook() is not None else []


_evidence: evidence.Sender | None = None


def _tampering(item: dict) -> None:
    """Evidence of tampering, at once, to the supervisor over this process's evidence line (it
    survives a crash or a hang, and nothing the student's code does afterwards takes it back).
    Nothing here leads to the agent's line: the audit hook's graph must not lead the student to
    the key."""
    if _evidence is not None:
        _evidence.send(item)


def _open_evidence_line(rundir: str) -> None:
    global _evidence
    _evidence = evidence.connect(rundir)


def _note_lowered(now: int, start: int, changed: list[str]) -> None:
    """The student's code left the recursion limit at `now`, below the request's `start`: noted
    as tampering, once. The limit is put back before this is called, by two C calls bound before
    the student's code ran (`_get_limit`, `_set_limit`): under a lowered limit any Python call
    (the race checks' tracer runs on each) would raise RecursionError in the grader's own code,
    a check's failure with no evidence against anyone (tests/attacks/recursion_limit_squeeze)."""
    if now < start:
        what = (
            f"the recursion limit lowered to {now} (sys.setrecursionlimit, by the student's code)"
        )
        if what not in changed:
            changed.append(what)
            _tampering({"event": "replaced", "what": what})


def run(request: AgentRequest, line: channel.AgentLine) -> dict:
    workdir = os.getcwd()
    outdir, rundir = request.outdir, request.rundir
    _open_evidence_line(rundir)
    _arm_stack_dump(outdir)
    from grader.checks import start_checks

    findings.set_outdir(outdir)
    key = bytes.fromhex(request.items_key)
    request.items_key = ""  # forgotten: only the armed work items hold it
    if key:
        workitems.arm(key, outdir)
    launch.guard(key)  # the programs the student's code starts, and the key of spawned ones
    del key
    rank = _rank(request)
    result: dict = {"rank": rank}
    locks.install(workdir)  # in every request: checked and plain runs look alike
    lockset.patch_threads()
    schedule.patch_threading()
    tracing.install_baseline()
    checks = start_checks(request.checks, workdir)
    if request.start_method:
        import multiprocessing

        multiprocessing.set_start_method(request.start_method, force=True)
    sys.path.append(workdir)
    shm_before = _shared_memory()
    policy = audit.Policy(workdir, rundir, report=_tampering, allowed_hooks=_tracer_hooks())
    # each check's name and stop() as they are now: the student's code may rename or rebind them
    stops = [(check.name, check, type(check).stop) for check in checks]
    snapshot = integrity.Snapshot(checks)
    probe_builtins = _probe_builtins()
    _hide_grader()  # for good: nothing of the grader's may be one dict lookup away again
    start_limit, lowered = sys.getrecursionlimit(), []  # type: int, list[str]
    # no .pyc of the student's modules: any the import system finds was planted (audit refuses it)
    sys.dont_write_bytecode = True
    audit.install(policy)
    try:
        try:
            module = importlib.import_module(request.module)
        except BaseException as exc:  # noqa: BLE001 - any failure to import is the student's
            result.update(status=Status.IMPORT_ERROR, exception=exception_record(exc, workdir))
            return result
        lockset.watch_student_classes(workdir)  # in every request, like the tracked locks
        try:
            fn, is_probe = _target(request, module, probe_builtins)
            request.probe = None  # compiled: the hidden test's source is needed no more
            args = codec.decode(request.args)
            kwargs = codec.decode(request.kwargs)
            line.called()  # the timeout starts now
            t0 = time.perf_counter()
            try:
                value = fn(module, *args, **kwargs) if is_probe else fn(*args, **kwargs)
            finally:
                limit_left = _get_limit()  # C calls first: no Python frame under a lowered limit
                _set_limit(start_limit)
                _note_lowered(limit_left, start_limit, lowered)
            result["agent_wall"] = time.perf_counter() - t0
        except _Missing as exc:
            result.update(
                status=Status.MISSING,
                exception={"type": "AttributeError", "message": str(exc), "frames": []},
            )
            return result
        except BaseException as exc:  # noqa: BLE001 - SystemExit from student code included
            result.update(status=Status.EXCEPTION, exception=exception_record(exc, workdir))
            return result
        try:
            result["value"] = codec.encode(value)
            result["status"] = Status.OK
        except codec.EncodeError as exc:
            result.update(
                status=Status.EXCEPTION,
                exception={"type": "ValueError", "message": str(exc), "frames": []},
            )
        return result
    finally:
        # From here on no student code runs: plain data is read, the grader's own code reports.
        limit_left = _get_limit()  # (a thread left running may lower it)
        _set_limit(start_limit)
        _note_lowered(limit_left, start_limit, lowered)
        result["leftover_threads"] = _threads_left()
        leaked = _leaked_shared_memory(shm_before)
        if leaked:
            result["leaked_shared_memory"] = leaked
        changed = snapshot.changes()
        for change in changed:
            _tampering({"event": "replaced", "what": f"{change} (by the student's code)"})
        line_ok = _evidence is not None and _evidence.intact()
        if not line_ok:
            _tampering({"event": "evidence-line", "what": evidence.LOST})  # on a line of our own
        if _evidence is not None and _evidence.lost:
            result["evidence_lost"] = True  # said in the signed result too, whatever happened
        result["checks"] = {
            name: _stop(check, stop, changed + lowered) for name, check, stop in stops
        }
        unlisted = _unlisted_threads(
            {getattr(check, "_watchdog_ident", None) for _, check, _ in stops}
        )
        if unlisted:
            found = result["leftover_threads"]
            found += [{"name": UNLISTED, "daemon": False}] * min(unlisted, 20 - len(found))


def main() -> None:
    line = channel.connect(os.environ.pop(channel.ENV))
    undumpable()
    result = run(line.request, line)
    if _wait_board is not None:
        _wait_board.done()  # this rank makes no more MPI calls of the student's
    line.result(result)
    sys.stdout.flush()
    sys.stderr.flush()
    if result.get("rank") is not None and "mpi4py.MPI" in sys.modules:
        from grader.checks import mpi_setup  # lazy: mpi4py, only in a rank

        mpi_setup.finalize()
    _exit(0)  # leftover non-daemon threads must not keep the process alive


def arm_child(key_fd: int) -> None:
    """The first thing a child multiprocessing starts does (its command line, see
    `launch.rebuild`): non-dumpable, then its key taken off descriptor `key_fd`, then `child`."""
    undumpable()
    child(launch.read_key(key_fd))


def child(key: bytes | None) -> None:
    """In a child the student's code spawned (multiprocessing's spawn, its fork server, whose
    forked children inherit all of it), first thing (`arm_child`, on its command line):
    the same stack dumps, work items, launcher and audit hook as in the agent."""
    outdir = os.environ.get(STACKS_ENV)
    if not outdir:
        return
    _open_evidence_line(os.path.dirname(outdir))
    _arm_stack_dump(outdir)
    findings.set_outdir(outdir)
    if key:
        workitems.arm(key, outdir)
    launch.guard(key)
    del key
    _hide_grader()
    audit.install(audit.Policy(os.getcwd(), os.path.dirname(outdir), report=_tampering))
