"""The agent's audit hook (PEP 578): what student code may not do inside the agent's process.

The race checks run in the student's own interpreter, so everything they keep is, in principle,
within the student's reach. `install` adds, before the student's module is imported, an audit
hook that cannot be removed, and refuses student code the ways in:

* frames: `sys._getframe`, `sys._current_frames`, a traceback's `tb_frame`, a generator's,
  coroutine's or async generator's frame, and the library calls that hand frames back (inspect's
  `currentframe`/`stack`/`trace`..., `traceback.walk_stack`/`walk_tb`, `logging.currentframe`);
  the code objects of functions that are not its own (`__code__`: the hidden probes' logic);
* trace and profile hooks (`sys.settrace`, `sys.setprofile`, a `threading` hook that is not ours),
  and audit hooks (`sys.addaudithook`: a hook of the student's would see every later event's
  arguments, the hidden probes' source in `compile` among them; CPython swallows the refusal,
  so the call returns None and the hook is never added);
* the garbage collector's object walks (`gc.get_objects`, `get_referrers`, `get_referents`);
* foreign calls through ctypes (loading a library, calling a C function, reading memory);
* the grader's files: the run folder outside the work folder (output folder, tool logs, the
  agents' socket) and `/proc/<pid>/{mem,environ,fd,...}`, whatever library opens them for it,
  and the folders relative names would reach them from: a descriptor or current folder of the
  run folder, a folder above it, /proc or /proc/<pid> (a name given with dir_fd is judged from
  the folder that descriptor stands for, a relative name to os.open from every folder the
  process holds a descriptor of: its "open" event does not say which one the kernel uses);
* importing the grader's modules (the live ones are hidden from `sys.modules` anyway), and
  loading an extension module (native code) from anywhere but the installed libraries;
* compiling code under the name of a grader or library file (the checks trust those names), and
  building a code object from parts at all (`code.replace`, `types.CodeType`, `marshal.loads`):
  crafted bytecode (a constant or local index past the end) reads and writes any memory; the
  import system loading bytecode from the student's files (a .pyc it wrote, in a folder or a zip:
  the agent writes none, its modules are compiled from source);
* changing the environment the grader's tools rely on (LD_PRELOAD, OCLGRIND_*, OCL_ICD_*...):
  a child started without it would run unwatched;
* starting other programs (subprocess, os.system, os.exec*, os.posix_spawn, and
  `_posixsubprocess.fork_exec`, which raises no event of its own: `grader.agent.launch` makes
  it raise `launch.LAUNCH_EVENT`): they would run without this hook (libraries the exercises
  use, pp, Celery, still may; multiprocessing's launcher starts only its own children of this
  interpreter, armed first), and loading `_posixsubprocess` again (a fresh, unguarded copy).

Who asks is decided by the innermost frame that counts (`grader.checks.codeclass`): the grader's
own code and libraries acting on their own are never refused. A refusal raises PermissionError
("... is not allowed in graded code") in the student's code and is reported as evidence of
tampering (`report`: the agent sends it to the supervisor at once, `grader.agent.evidence`),
whether or not the report gets through. Signal handlers the student installs get no frame
(`signal.signal` and `_signal.signal` are wrapped). This is not a sandbox (the PEP says so): the container is the
boundary; this makes tampering with the in-process checks fail loudly and leave evidence.
"""

from __future__ import annotations

import _thread
import importlib.machinery
import os
import re
import stat
import sys
import sysconfig

from grader.agent import launch
from grader.agent.integrity import adds_no_import_path
from grader.checks import codeclass
from grader.checks.codeclass import GRADER, LIBRARY, PROBE, STUDENT

DENIED = "is not allowed in graded code (it reaches into the grader)"
FRAME_ATTRS = frozenset({"tb_frame", "gi_frame", "cr_frame", "ag_frame"})
_PROC = re.compile(
    r"^/proc/(\d+|self|thread-self)(/task/\d+)?/"
    r"(fd|fdinfo|mem|environ|map_files|pagemap|cwd|root)(/|$)"
)
_PROC_DIR = re.compile(r"^/proc(/(\d+|self|thread-self)(/task(/\d+)?)?)?/?$")
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
_LAUNCH_FILES = frozenset({launch.__file__, os.path.realpath(launch.__file__)})
_MP_LAUNCHER_FILES = _stdlib_files("multiprocessing.util")  # spawnv_passfds
_IMPORT_FILES = _stdlib_files(
    "importlib",
    "importlib._bootstrap",
    "importlib._bootstrap_external",
    "importlib.util",
    "pkgutil",
)
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
# Path events: for each path argument, (its index, the index of its dir_fd argument); dir_fd
# None: relative to the current directory. CPython's "open" event carries no dir_fd: a relative
# name may be taken from any directory descriptor the process holds (ANY).
ANY = "any"
_PATH_ARGS = {
    "open": ((0, ANY),),
    "os.listdir": ((0, None),),
    "os.scandir": ((0, None),),
    "os.chmod": ((0, 2),),
    "os.chown": ((0, 3),),
    "os.remove": ((0, 1),),
    "os.rename": ((0, 2), (1, 3)),
    "os.rmdir": ((0, 1),),
    "os.truncate": ((0, None),),
    "os.utime": ((0, 3),),
    "os.mkdir": ((0, 2),),
    "os.link": ((0, 2), (1, 3)),
    "os.symlink": ((0, None), (1, 2)),
    "shutil.copyfile": ((0, None), (1, None)),
    "shutil.rmtree": ((0, 1),),
    "os.chdir": ((0, None),),
    "os.chflags": ((0, None),),
    "os.setxattr": ((0, None),),
    "os.removexattr": ((0, None),),
}
_PATH_EVENTS = frozenset(_PATH_ARGS)
_O_TMPFILE = getattr(os, "O_TMPFILE", 0)


def _gives_a_base(event: str, args: tuple) -> bool:
    """Whether the event may leave the process a folder to take relative names from: a new
    current folder, or os.open (its "open" event has no mode) of a folder -- not io.open, which
    never returns a folder (with an opener it reports the folder the opener creates a file in),
    nor O_TMPFILE, which returns a file."""
    if event == "os.chdir":
        return True
    if event != "open" or len(args) < 3 or args[1] is not None:
        return False
    flags = args[2] if type(args[2]) is int else 0
    return not (_O_TMPFILE and flags & _O_TMPFILE == _O_TMPFILE)


class Policy:
    """The places and hooks the student must keep away from, and where evidence goes."""

    def __init__(self, workdir: str, rundir: str, report=None, allowed_hooks=()):
        self.workdir = os.path.realpath(workdir).rstrip("/") + "/"
        self.rundir = os.path.realpath(rundir).rstrip("/") + "/"
        self.report = report or (lambda item: None)
        self.allowed_hooks = list(allowed_hooks)  # trace/profile functions of our own checks

    def refusal(self, path, dir_fd=None, descriptor: bool = False) -> str:
        """Why student code may not use `path` ('' if it may). `dir_fd` is the folder a relative
        name is taken from: None the current one, ANY whichever the process holds a descriptor
        of. With `descriptor` (open, chdir: what leaves the process a folder to walk from), the
        run folder, the folders above it, /proc and a process's folder in /proc are refused as
        well: relative names taken from one reach the output folder or /proc/<pid>/fd unseen
        (CPython's "open" event does not say which folder a name is relative to)."""
        text = _as_str(path)
        if text is None:
            return ""
        for base in _bases(text, dir_fd):
            if base is None:  # a folder too deep to be named: only names that stay inside it
                if ".." in text.split("/"):
                    return f"touching {text} (climbing out of a folder too deep to name)"
                continue
            joined = os.path.join(base, text) if base else text
            real = _real(base, text, joined)
            if self._guarded(real) or _PROC.match(os.path.abspath(joined)):
                return f"touching {text}"
            if descriptor and (
                self.rundir.startswith(real.rstrip("/") + "/") or _PROC_DIR.match(real)
            ):
                return f"opening {text} (the run folder, a folder above it, or /proc)"
        return ""

    def _guarded(self, real: str) -> bool:
        if _PROC.match(real):
            return True
        inside_run = (real + "/").startswith(self.rundir)
        return inside_run and not (real + "/").startswith(self.workdir)


def _as_str(path) -> str | None:
    if isinstance(path, int):
        return None  # a descriptor the process already holds
    if not isinstance(path, (str, bytes)):
        path = os.fspath(path) if hasattr(path, "__fspath__") else ""
    return os.fsdecode(path) if isinstance(path, bytes) else path


_UNNAMED = object()


def _fd_path(fd: int):
    """The folder a directory descriptor of this process stands for, symbolic links resolved
    (None: not a folder; `_UNNAMED`: a folder the kernel cannot name, its path too long)."""
    try:
        if not stat.S_ISDIR(os.fstat(fd).st_mode):
            return None
        target = os.readlink(f"/proc/self/fd/{fd}")
    except (OSError, ValueError):
        return _UNNAMED
    return target if target.startswith("/") else _UNNAMED


def _directory_descriptors() -> list:
    """The folders this process holds descriptors of (a process reads its own /proc/self/fd
    whatever its dumpable state and uid); None for one that cannot be named."""
    try:
        names = os.listdir("/proc/self/fd")
    except OSError:
        return [None]
    found = {_fd_path(int(name)) for name in names if name.isdigit()}
    found.discard(None)
    return [None if f is _UNNAMED else f for f in found]


def _bases(text: str, dir_fd) -> list:
    """The folders a name may be taken from: "" for an absolute name, None for a folder that
    cannot be named; the others as the kernel names them (no symbolic link in them)."""
    if os.path.isabs(text):
        return [""]
    if dir_fd == ANY:
        return [os.getcwd(), *_directory_descriptors()]
    if type(dir_fd) is int and dir_fd >= 0:
        base = _fd_path(dir_fd)
        return [None if base is _UNNAMED else base or "/"]  # not a folder: the call fails
    return [os.getcwd()]


def _real(base: str, text: str, joined: str) -> str:
    """realpath(joined), cheaply for one plain name in a folder the kernel named (its path has
    no link to resolve): a walk down a deep tree costs one lookup a step, not one a level."""
    if base and "/" not in text and text not in (".", "..") and not os.path.islink(joined):
        return joined
    return os.path.realpath(joined)


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
    try:
        policy.report({"event": event, "what": what, "detail": detail[:300], **where})
    except Exception:  # noqa: BLE001 - whether evidence can be sent never decides a refusal
        pass
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
    if event == "sys.addaudithook":
        k, frame = _decider(caller, False)
        if k == STUDENT:
            _deny(policy, "sys.addaudithook()", frame, event)
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
            for index, fd_index in _PATH_ARGS[event]:
                if index >= len(args):
                    continue
                path = args[index]
                if type(fd_index) is int:
                    dir_fd = args[fd_index] if fd_index < len(args) else None
                else:
                    dir_fd = fd_index
                what = policy.refusal(path, dir_fd, _gives_a_base(event, args))
                if what:
                    _deny(policy, what, frame, event, _as_str(path) or "")
        return
    if event == launch.LAUNCH_EVENT:
        # multiprocessing's launcher starts only its own children of this interpreter (`launch`
        # rebuilds those): anything else it is asked to start is refused, whoever asked
        frame = caller
        while frame is not None and frame.f_code.co_filename in _LAUNCH_FILES:
            frame = frame.f_back
        if frame is not None and frame.f_code.co_filename in _MP_LAUNCHER_FILES:
            _k, who = _decider(frame, True)
            _deny(
                policy,
                "starting another program through multiprocessing's launcher",
                who or frame,
                event,
                str(args[1])[:200] if len(args) > 1 else "",
            )
        k, frame = _decider(caller, False, thin_files=_SPAWNER_FILES | _LAUNCH_FILES)
        if k == STUDENT:
            _deny(
                policy,
                "starting another program",
                frame,
                event,
                str(args[1])[:200] if len(args) > 1 else "",
            )
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
        if name == "_posixsubprocess":  # loaded (and guarded) before the hook: a fresh copy
            k, frame = _decider(caller, False, thin_files=_IMPORT_FILES, skip_import=True)
            _deny(policy, "loading _posixsubprocess again", frame, event)
        if isinstance(name, str) and (name == "grader" or name.startswith("grader.")):
            k, frame = _decider(caller, False, thin_files=_IMPORT_FILES, skip_import=True)
            if k == STUDENT:
                _deny(policy, f"importing {name}", frame, event, name)
        return
    if event == "code.__new__":
        # a code object built from parts (code.replace, types.CodeType) runs whatever bytes it
        # is given: an out-of-range LOAD_CONST or LOAD_FAST reads any memory of the process
        k, frame = _decider(caller, False)
        if k == STUDENT:
            _deny(policy, "building a code object (code.replace, types.CodeType)", frame, event)
        return
    if event == "compile":
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
        if key.startswith(_GUARDED_ENV) and not _harmless_env(event, key, args):
            k, frame = _decider(caller, True)  # os.environ acts for whoever changes it
            if k == STUDENT:
                _deny(policy, f"changing the environment variable {key}", frame, event, key)
        return
    if event in ("marshal.loads", "marshal.load"):
        loader, path = _bytecode_file(caller)
        if loader:  # the import system's: what it loads must be an installed library's .pyc
            if path is not None and _is_library_bytecode(path, args[0] if args else None):
                return
            k, frame = _decider(caller, True, skip_import=True)
            if k == STUDENT or (path is not None and not _is_library_path(path)):
                name = os.path.basename(path) if path else "?"
                _deny(policy, f"loading bytecode ({name})", frame, event, path or "")
            return
        k, frame = _decider(caller, False)
        if k == STUDENT:
            _deny(policy, f"{event}() (code objects from bytes)", frame, event)


# The import system's functions that unmarshal a module's code, and their local naming the file
_BYTECODE_LOADERS = {
    ("<frozen importlib._bootstrap_external>", "_compile_bytecode"): "bytecode_path",
    ("<frozen zipimport>", "_unmarshal_code"): "fullpath",
}
_PYC_HEADER = 16


def _bytecode_file(caller) -> tuple[bool, str | None]:
    """Whether the caller is the import system unmarshalling a module, and the file it names."""
    if caller is None:
        return False, None
    local = _BYTECODE_LOADERS.get((caller.f_code.co_filename, caller.f_code.co_name))
    if local is None:
        return False, None
    path = caller.f_locals.get(local)
    return True, path if isinstance(path, str) else None


def _is_library_path(path: str) -> bool:
    return codeclass.kind_of_file(os.path.realpath(path)) != STUDENT


def _is_library_bytecode(path: str, data) -> bool:
    """`data` is what the installed library's (or the grader's) .pyc at `path` holds: a loader
    the student wrote can name a library's file and hand over bytes of its own."""
    if data is None or not _is_library_path(path):
        return False
    try:
        with open(path, "rb") as f:
            f.seek(_PYC_HEADER)
            return f.read() == bytes(data)
    except (OSError, TypeError, ValueError):
        return False


def _harmless_env(event: str, key: str, args: tuple) -> bool:
    """PYTHONPATH set to folders the process already imports from (see adds_no_import_path)."""
    if key != "PYTHONPATH" or event != "os.putenv" or len(args) < 2:
        return False
    value = args[1]
    value = value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
    return adds_no_import_path(value, os.environ.get("PYTHONPATH"))


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
        "sys.addaudithook",
        "gc.get_objects",
        "gc.get_referrers",
        "gc.get_referents",
        "import",
        "compile",
        "code.__new__",
        "marshal.loads",
        "marshal.load",
        launch.LAUNCH_EVENT,
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
        import _posixsubprocess  # noqa: F401 - loaded now: a later load is refused (see "import")

        _wrap_signals()
        sys.addaudithook(_hook)
