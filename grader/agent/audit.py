"""The agent's audit hook (PEP 578): what student code may not do inside the agent's process.

The race checks run in the student's own interpreter, so everything they keep is, in principle,
within the student's reach. `install` adds, before the student's module is imported, an audit
hook that cannot be removed, and refuses student code the ways in:

* frames: `sys._getframe`, `sys._current_frames`, a traceback's `tb_frame`, a generator's,
  coroutine's or async generator's frame, and the library calls that hand frames back (inspect's
  `currentframe`/`stack`/`trace`..., `traceback.walk_stack`/`walk_tb`, `logging.currentframe`);
  the code objects of functions that are not its own (`__code__`: the hidden probes' logic);
* trace and profile hooks (`sys.settrace`, `sys.setprofile`, a `threading` hook that is not ours);
* the garbage collector's object walks (`gc.get_objects`, `get_referrers`, `get_referents`);
* foreign calls through ctypes (loading a library, calling a C function, reading memory);
* the grader's files: the run folder outside the work folder (output folder, tool logs, the
  agents' socket) and `/proc/<pid>/{mem,environ,fd,...}`, whatever library opens them for it;
* importing the grader's modules (the live ones are hidden from `sys.modules` anyway), and
  loading an extension module (native code) from anywhere but the installed libraries;
* compiling code under the name of a grader or library file (the checks trust those names);
* changing the environment the grader's tools rely on (LD_PRELOAD, OCLGRIND_*, OCL_ICD_*...):
  a child started without it would run unwatched;
* starting other programs (subprocess, os.system, os.exec*, os.posix_spawn): they would run
  without this hook (libraries the exercises use, multiprocessing, pp, Celery, still may).

Who asks is decided by the innermost frame that counts (`grader.checks.codeclass`): the grader's
own code and libraries acting on their own are never refused. A refusal raises PermissionError
("... is not allowed in graded code") in the student's code and is reported as evidence of
tampering (`report`). Signal handlers the student installs get no frame (`signal.signal` and
`_signal.signal` are wrapped). This is not a sandbox (the PEP says so): the container is the
boundary; this makes tampering with the in-process checks fail loudly and leave evidence.
"""

from __future__ import annotations

import _thread
import importlib.machinery
import os
import re
import sys
import sysconfig

from grader.checks import codeclass
from grader.checks.codeclass import GRADER, LIBRARY, PROBE, STUDENT

DENIED = "is not allowed in graded code (it reaches into the grader)"
FRAME_ATTRS = frozenset({"tb_frame", "gi_frame", "cr_frame", "ag_frame"})
_PROC = re.compile(
    r"^/proc/(\d+|self|thread-self)(/task/\d+)?/"
    r"(fd|fdinfo|mem|environ|map_files|pagemap|cwd|root)(/|$)"
)
_STDLIB = sysconfig.get_paths()["stdlib"]


def _stdlib_files(*names: str) -> frozenset:
    """The file names (as code objects carry them) of standard-library modules, without
    importing them: a module the student has not loaded costs nothing here."""
    out: set[str] = set()
    for name in names:
        rel = name.replace(".", os.sep)
        for path in (rel + ".py", os.path.join(rel, "__init__.py")):
            full = os.path.join(_STDLIB, path)
            out.update((full, os.path.realpath(full)))
    return frozenset(out)


# Library functions that hand frames back to their caller: the caller decides.
_FRAME_GIVERS = {
    "currentframe",
    "stack",
    "trace",
    "getouterframes",
    "getinnerframes",
    "walk_stack",
    "walk_tb",
    "_walk_tb_with_full_positions",
    "_task_get_stack",
    "<lambda>",
}  # logging.currentframe is a lambda
_GENERATOR_GIVERS = {"walk_stack", "walk_tb", "_walk_tb_with_full_positions"}
_FRAME_SINKS = {"_extract_from_extended_frame_gen"}  # turns frames into summaries, keeps none
_GIVER_FILES = _stdlib_files("inspect", "traceback", "logging", "asyncio.base_tasks")
_READER_FILES = _stdlib_files("dis")  # disassembles a function's code for its caller
_CODE_ATTRS = frozenset({"__code__", "gi_code", "cr_code", "ag_code"})
_SPAWNER_FILES = _stdlib_files(
    "subprocess",
    "os",
    "pty",
    "shutil",
    "asyncio.subprocess",
    "asyncio.base_subprocess",
    "asyncio.unix_events",
)
_CTYPES_FILES = _stdlib_files("ctypes", "ctypes._endian", "ctypes.util")
_IMPORT_FILES = _stdlib_files(
    "importlib",
    "importlib._bootstrap",
    "importlib._bootstrap_external",
    "importlib.util",
    "pkgutil",
)
_TWO_PATHS = frozenset({"os.rename", "os.link", "os.symlink", "shutil.copyfile"})
_NATIVE = tuple(importlib.machinery.EXTENSION_SUFFIXES) + (".so",)
_SPAWN_EVENTS = frozenset(
    {
        "subprocess.Popen",
        "os.system",
        "os.exec",
        "os.posix_spawn",
        "os.spawn",
        "os.startfile",
        "pty.spawn",
    }
)
_CTYPES_EVENTS = frozenset(
    {
        "ctypes.dlopen",
        "ctypes.dlsym",
        "ctypes.dlsym/handle",
        "ctypes.call_function",
        "ctypes.PyObj_FromPtr",
        "ctypes.string_at",
        "ctypes.wstring_at",
        "ctypes.cdata",
    }
)
_PATH_EVENTS = frozenset(
    {
        "open",
        "os.listdir",
        "os.scandir",
        "os.chmod",
        "os.chown",
        "os.remove",
        "os.rename",
        "os.rmdir",
        "os.truncate",
        "os.utime",
        "os.mkdir",
        "os.link",
        "os.symlink",
        "shutil.copyfile",
        "shutil.rmtree",
        "os.chdir",
        "os.chflags",
        "os.setxattr",
        "os.removexattr",
    }
)


class Policy:
    """The places and hooks the student must keep away from, and where evidence goes."""

    def __init__(self, workdir: str, rundir: str, report=None, allowed_hooks=()):
        self.workdir = os.path.realpath(workdir).rstrip("/") + "/"
        self.rundir = os.path.realpath(rundir).rstrip("/") + "/"
        self.report = report or (lambda item: None)
        self.allowed_hooks = list(allowed_hooks)  # trace/profile functions of our own checks

    def protected(self, path) -> bool:
        if isinstance(path, int):
            return False
        if isinstance(path, bytes):
            path = os.fsdecode(path)
        if not isinstance(path, str):
            path = os.fspath(path) if hasattr(path, "__fspath__") else ""
            if isinstance(path, bytes):
                path = os.fsdecode(path)
        real = os.path.realpath(path)
        if _PROC.match(real) or _PROC.match(os.path.abspath(path)):
            return True
        inside_run = (real + "/").startswith(self.rundir)
        return inside_run and not (real + "/").startswith(self.workdir)


_busy: set[int] = set()
_policy: Policy | None = None


def _decider(
    frame, skip_library: bool, thin_files=frozenset(), thin_names=None, skip_import: bool = False
):
    """(kind, frame) of the innermost frame that decides; (None, None) if none does. Frames of
    `thin_files` (only of the functions in `thin_names`, if given) act for their caller, who
    decides; with `skip_library`, so do all library frames, and with `skip_import` the import
    machinery's (otherwise importing a module is the import machinery's own doing)."""
    while frame is not None:
        code = frame.f_code
        name = code.co_filename
        if (name in thin_files and (thin_names is None or code.co_name in thin_names)) or (
            skip_import and name.startswith("<frozen importlib")
        ):
            frame = frame.f_back
            continue
        k = codeclass.kind(code)
        if k == LIBRARY and skip_library:
            frame = frame.f_back
            continue
        return k, frame
    return None, None


def _deny(policy: Policy, what: str, frame, event: str, detail: str = "") -> None:
    where = {}
    if frame is not None:
        code = frame.f_code
        where = {
            "file": code.co_filename.removeprefix(policy.workdir)[:300],
            "line": frame.f_lineno,
            "function": code.co_name[:100],
        }
    policy.report({"event": event, "what": what, "detail": detail[:300], **where})
    raise PermissionError(f"{what} {DENIED}")


def _frame_taker(caller):
    """(kind, frame) of who takes a frame. Library functions that hand frames to their caller
    (inspect.currentframe, logging.currentframe...) act for that caller. The generators that do
    (traceback.walk_stack, walk_tb) act for whoever iterates them: traceback's own summary
    (without captured locals) keeps the frames to itself; any other library iterating one for
    the student -- heapq, a capture_locals summary -- hands the frames on, so the student
    further out decides."""
    frame, generator = caller, False
    while frame is not None:
        code = frame.f_code
        if code.co_filename in _GIVER_FILES and code.co_name in _FRAME_GIVERS:
            generator = generator or code.co_name in _GENERATOR_GIVERS
            frame = frame.f_back
            continue
        break
    if frame is None:
        return None, None
    k = codeclass.kind(frame.f_code)
    if k != LIBRARY or not generator:
        return k, frame
    code = frame.f_code
    if (
        code.co_filename in _GIVER_FILES
        and code.co_name in _FRAME_SINKS
        and not frame.f_locals.get("capture_locals")
    ):
        return LIBRARY, frame
    return _decider(frame, True)


def _check(policy: Policy, event: str, args: tuple, caller) -> None:
    if event == "object.__getattr__" or event in ("sys._getframe", "sys._current_frames"):
        if event == "object.__getattr__" and args[1] in _CODE_ATTRS:
            k, frame = _decider(caller, False, _READER_FILES)
            if k == STUDENT:
                target = getattr(args[0], args[1], None)  # nested event: we are busy
                if target is not None and codeclass.kind(target) in (PROBE, GRADER):
                    _deny(policy, "reading the code of the grader's functions", frame, event)
            return
        k, frame = _frame_taker(caller)
        if k == STUDENT:
            what = (
                f"reading .{args[1]} (a frame)" if event == "object.__getattr__" else f"{event}()"
            )
            _deny(policy, what, frame, event)
        return
    if event in ("sys.settrace", "sys.setprofile"):
        k, frame = _decider(caller, False)
        if k == STUDENT:
            _deny(policy, f"{event}()", frame, event)
        if k == LIBRARY and frame.f_code.co_name == "_bootstrap_inner":
            import threading  # a new thread installs threading's hook: it must be one of ours

            # the module's own globals, not gettrace()/getprofile(), which the student can replace
            hook = (
                threading._trace_hook  # type: ignore[attr-defined]  # private: not in typeshed
                if event == "sys.settrace"
                else threading._profile_hook
            )
            if hook is not None and hook not in policy.allowed_hooks:
                _deny(policy, f"a threading.{event.split('.')[1]}() hook", None, event)
        return
    if event in ("gc.get_objects", "gc.get_referrers", "gc.get_referents"):
        k, frame = _decider(caller, False)
        if k == STUDENT:
            _deny(policy, f"{event}()", frame, event)
        return
    if event in _CTYPES_EVENTS:
        k, frame = _decider(caller, False, thin_files=_CTYPES_FILES)
        if k == STUDENT:
            _deny(policy, f"calling C code through ctypes ({event})", frame, event)
        return
    if event in _PATH_EVENTS:
        k, frame = _decider(caller, True)
        if k == STUDENT and args:
            for path in args[:2] if event in _TWO_PATHS else args[:1]:
                if policy.protected(path):
                    shown = os.fsdecode(path) if isinstance(path, (str, bytes)) else str(path)
                    _deny(policy, f"touching {shown}", frame, event, shown)
        return
    if event in _SPAWN_EVENTS:
        k, frame = _decider(caller, False, thin_files=_SPAWNER_FILES)
        if k == STUDENT:
            _deny(
                policy, "starting another program", frame, event, str(args[0])[:200] if args else ""
            )
        return
    if event == "import":
        name = args[0] if args else ""
        origin = args[1] if len(args) > 1 else None  # set when an extension module is loaded
        if (
            isinstance(origin, str)
            and origin.endswith(_NATIVE)
            and codeclass.kind_of_file(os.path.realpath(origin)) == STUDENT
        ):
            k, frame = _decider(caller, False, thin_files=_IMPORT_FILES, skip_import=True)
            _deny(policy, f"loading native code ({os.path.basename(origin)})", frame, event, origin)
        if isinstance(name, str) and (name == "grader" or name.startswith("grader.")):
            k, frame = _decider(caller, False, thin_files=_IMPORT_FILES, skip_import=True)
            if k == STUDENT:
                _deny(policy, f"importing {name}", frame, event, name)
        return
    if event in ("compile", "code.__new__"):
        filename = args[1] if len(args) > 1 else ""
        if codeclass.claims_trusted_name(filename):
            k, frame = _decider(caller, False)
            if k == STUDENT:
                _deny(
                    policy,
                    f"compiling code under the name {filename!r}",
                    frame,
                    event,
                    str(filename),
                )
        return
    if event in ("os.putenv", "os.unsetenv"):
        key = args[0] if args else b""
        key = key.decode("utf-8", "replace") if isinstance(key, bytes) else str(key)
        if key.startswith(_GUARDED_ENV):
            k, frame = _decider(caller, True)  # os.environ acts for whoever changes it
            if k == STUDENT:
                _deny(policy, f"changing the environment variable {key}", frame, event, key)
        return
    if event == "marshal.loads":
        k, frame = _decider(caller, False)
        if k == STUDENT:
            _deny(policy, "marshal.loads() (code objects from bytes)", frame, event)


# What the grader's tools and the agent's children rely on: a child started without them would
# run unwatched (Oclgrind's preload, the MPI shim, the OpenCL loader's configuration).
_GUARDED_ENV = (
    "LD_PRELOAD",
    "LD_LIBRARY_PATH",
    "OCLGRIND",
    "OCL_ICD",
    "OPENCL_VENDOR_PATH",
    "PGRADER",
    "PYTHONPATH",
    "PYTHONHOME",
    "PYTHONSTARTUP",
    "MPIR_CVAR",
    "HYDRA",
)
_WATCHED = frozenset(
    {
        "object.__getattr__",
        "sys._getframe",
        "sys._current_frames",
        "sys.settrace",
        "sys.setprofile",
        "gc.get_objects",
        "gc.get_referrers",
        "gc.get_referents",
        "import",
        "compile",
        "code.__new__",
        "marshal.loads",
        "os.putenv",
        "os.unsetenv",
    }
    | _CTYPES_EVENTS
    | _PATH_EVENTS
    | _SPAWN_EVENTS
)
_WATCHED_ATTRS = FRAME_ATTRS | _CODE_ATTRS


def _hook(event, args):
    if event not in _WATCHED:
        return
    if event == "object.__getattr__" and args[1] not in _WATCHED_ATTRS:
        return
    me, policy = _thread.get_ident(), _policy
    if me in _busy or policy is None:
        return
    _busy.add(me)
    try:
        _check(policy, event, args, sys._getframe(1))
    except PermissionError:
        raise
    except Exception:  # noqa: BLE001 - a fault of ours must never break the code it watches
        pass
    finally:
        _busy.discard(me)


def _no_frame(handler):
    """A signal handler as the student's code installs it, called without the interrupted frame."""
    if not callable(handler):
        return handler

    def called(signum, frame):
        return handler(signum, None)

    called.__wrapped_handler__ = handler
    return called


def _wrap_signals() -> None:
    import _signal  # type: ignore[import-not-found]  # CPython's C module: typeshed has no stub
    import signal  # noqa: F401 - loaded before _signal is patched (it wraps _signal's functions)

    real_signal, real_getsignal = _signal.signal, _signal.getsignal

    def signal_(signalnum, handler):
        previous = real_signal(signalnum, _no_frame(handler))
        return getattr(previous, "__wrapped_handler__", previous)

    def getsignal(signalnum):
        current = real_getsignal(signalnum)
        return getattr(current, "__wrapped_handler__", current)

    _signal.signal, _signal.getsignal = signal_, getsignal  # signal.signal calls these


def install(policy: Policy) -> None:
    """Install the hook for this process (and, inherited, its forked children). Once only."""
    global _policy
    first = _policy is None
    _policy = policy
    if first:
        _wrap_signals()
        sys.addaudithook(_hook)
