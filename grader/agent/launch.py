"""How the student's processes start programs: multiprocessing's own children, armed first.

CPython raises no audit event for `_posixsubprocess.fork_exec` (also `subprocess._fork_exec`),
which starts every program `subprocess` and multiprocessing's launcher (`multiprocessing.util.spawnv_passfds`: the spawn
and forkserver start methods, the resource tracker) start. `guard(key)` replaces it, in the
agent and in every child it arms, before the student's code runs:

* a command line multiprocessing builds for a child of this interpreter (`spawn_main`, the fork
  server's `main`, the resource tracker's `main`) is rebuilt from its parsed numbers and names:
  this interpreter (as it was when armed), `-I`, and, for a child that runs the student's code,
  `grader.agent.agent.arm_child(K)` first -- the audit hook, the stack dumps, a non-dumpable process and the
  work-item key, read from descriptor K before anything is unpickled or imported. The key is
  written into a fresh pipe between fork and exec (one thread: no other thread of the parent
  ever holds either end), and only that child holds the read end;
* anything else raises the audit event `LAUNCH_EVENT` first, for the audit hook to decide: what
  `subprocess` starts for a library goes on, what student code starts, or multiprocessing's
  launcher with any other command line (`set_executable`, a forged argv), is refused.

So the key is in no process's environment or argv, and no program starts unseen. The original
function and the key live only among the constants of the wrapper's code (`sealed_code`), closed to student code by the audit hook.
"""

from __future__ import annotations

import ast
import functools
import os
import re
import sys

LAUNCH_EVENT = "pgrader.fork_exec"
KEY_BYTES = 32
_SPAWN = re.compile(
    r"from multiprocessing\.spawn import spawn_main; spawn_main\("
    r"((?:(?:tracker_fd|pipe_handle|parent_pid)=(?:\d{1,9}|None)(?:, )?){1,3})\)"
)
_FORKSERVER = re.compile(
    r"from multiprocessing\.forkserver import main; main\((\d{1,9}), (\d{1,9}), (.{2,65536}), "
    r"\*\*(.{2,65536})\)",
    re.DOTALL,
)
_TRACKER = re.compile(r"from multiprocessing\.resource_tracker import main;main\((\d{1,9})\)")
_ARM = "__import__('grader.agent.agent', fromlist=['arm_child']).arm_child(%d); "


@functools.lru_cache(maxsize=8)
def _compiled(source: str, filename: str):
    """`source` compiled once per process: the warm template compiles the wrapper when it
    imports this module, before it forks the agents (each spent over a millisecond on it). The
    code holds no secret: `sealed_code` puts its secret into a copy."""
    return compile(source, filename, "exec")


def sealed_code(source: str, filename: str, name: str, secret: tuple):
    """The function `name` of `source`, compiled under `filename` (a grader file: the audit hook
    closes its code to student code), the string constant "@@SEALED@@" among its constants
    replaced by `secret`: what it holds is in no dict, cell or default student code could read
    or rebind. Its source must take every name it uses out of that tuple."""
    compiled = _compiled(source, filename)
    code = next(c for c in compiled.co_consts if getattr(c, "co_name", None) == name)
    code = code.replace(co_consts=tuple(secret if c == "@@SEALED@@" else c for c in code.co_consts))
    env: dict = {}
    exec(
        compiled.replace(
            co_consts=tuple(
                code if getattr(c, "co_name", None) == name else c for c in compiled.co_consts
            )
        ),
        env,
    )
    return env[name]


def _text(arg) -> str | None:
    if type(arg) is bytes:
        return os.fsdecode(arg)
    return arg if type(arg) is str else None


def _strings(value) -> bool:
    return type(value) is list and all(type(v) is str for v in value)


def _forkserver_args(preload: str, data: str) -> tuple[list, dict] | None:
    """The fork server's preload list and preparation data, if they are plain literals."""
    try:
        modules, prep = ast.literal_eval(preload), ast.literal_eval(data)
    except (ValueError, SyntaxError, MemoryError, RecursionError, TypeError):
        return None
    if (
        not _strings(modules)
        or type(prep) is not dict
        or not set(prep) <= {"main_path", "sys_path"}
    ):
        return None
    if type(prep.get("main_path", "")) is not str or not _strings(prep.get("sys_path", [])):
        return None
    return modules, prep


def _program(code: str, tail: list) -> tuple[str, list[int], bool] | None:
    """(the program rebuilt, the descriptors it names, whether it runs the student's code), for
    one of multiprocessing's own command lines; None for anything else."""
    if tail == ["--multiprocessing-fork"] and (m := _SPAWN.fullmatch(code)):
        pairs = dict(p.split("=") for p in m.group(1).split(", "))
        if len(pairs) != len(m.group(1).split(", ")) or "pipe_handle" not in pairs:
            return None
        named = {k: None if v == "None" else int(v) for k, v in pairs.items()}
        args = ", ".join(f"{k}={v!r}" for k, v in named.items())
        fds = [v for v in named.values() if v is not None and named.get("parent_pid") != v]
        return f"from multiprocessing.spawn import spawn_main; spawn_main({args})", fds, True
    if tail == [] and (m := _FORKSERVER.fullmatch(code)):
        parsed = _forkserver_args(m.group(3), m.group(4))
        if parsed is None:
            return None
        listener, alive = int(m.group(1)), int(m.group(2))
        modules, prep = parsed
        program = (
            "from multiprocessing.forkserver import main; "
            f"main({listener}, {alive}, {modules!r}, **{prep!r})"
        )
        return program, [listener, alive], True
    if tail == [] and (m := _TRACKER.fullmatch(code)):
        fd = int(m.group(1))
        return f"from multiprocessing.resource_tracker import main;main({fd})", [fd], False
    return None


def _flags() -> list[str]:
    out = ["-I"]
    if sys.flags.optimize:
        out.append("-" + "O" * sys.flags.optimize)
    if sys.flags.dont_write_bytecode or sys.dont_write_bytecode:  # the agent's: no .pyc
        out.append("-B")
    return out


def rebuild(argv, executable_list, fds_to_keep, exe: str, key_fd: int):
    """(argv, fds to keep, K) for multiprocessing's child of `exe` (K: `key_fd`, the descriptor
    its key goes to, or -1 for none), or None if `argv` is anything else."""
    if type(argv) not in (list, tuple) or type(executable_list) not in (list, tuple):
        return None
    if len(executable_list) != 1 or _text(executable_list[0]) != exe:
        return None
    texts = [_text(a) for a in argv]
    args = [a for a in texts if a is not None]
    if len(args) != len(texts) or len(args) < 3 or args[0] != exe or "-c" not in args:
        return None
    at = args.index("-c")
    if at + 1 >= len(args):
        return None
    found = _program(args[at + 1], args[at + 2 :])
    if found is None:
        return None
    program, named, armed = found
    keep = tuple(sorted({int(fd) for fd in fds_to_keep}))
    if any(fd not in keep for fd in named):
        return None
    if not armed or key_fd in keep:
        key_fd = -1
    if key_fd >= 0:
        keep = tuple(sorted((*keep, key_fd)))
    if armed:
        program = _ARM % key_fd + program
    return [exe, *_flags(), "-c", program, *args[at + 2 :]], keep, key_fd


# The wrapper. Every name it uses comes out of the tuple that replaces "@@SEALED@@" among its
# constants: the original fork_exec, the key and C functions bound before the student's code ran.
_WRAPPER = """
def fork_exec(*args):
    (real, rebuild, audit, event, exe, exe_bytes, partial, give, open_, close, null, flags,
     tuple_, list_, len_) = "@@SEALED@@"
    if len_(args) != 23:
        return real(*args)
    # K: a descriptor that holds nothing (fork_exec wants the ones it keeps open at the fork);
    # the child's `give` puts the key's pipe there, between fork and exec
    placeholder = -1 if give is None else open_(null, flags)
    try:
        found = rebuild(args[0], args[1], args[3], exe, placeholder)
        if found is None:
            audit(event, args[1], args[0])
            return real(*args)
        argv, keep, key_fd = found
        call = list_(args)
        call[0], call[1], call[3] = argv, [exe_bytes], keep
        if key_fd >= 0:
            call[21], call[22] = partial(give, key_fd), False
        return real(*tuple_(call))
    finally:
        if placeholder >= 0:
            close(placeholder)


def give(key_fd):
    (key, pipe, write, close, dup2) = "@@SEALED@@"
    r, w = pipe()
    write(w, key)
    close(w)
    dup2(r, key_fd)
    close(r)
"""


def guard(key: bytes | None) -> None:
    """Replace `_posixsubprocess.fork_exec` in this process (see the module's docstring); its
    forked children inherit it. Before the student's code runs: once per process."""
    import _posixsubprocess

    real = _posixsubprocess.fork_exec
    if getattr(real, "__module__", None) == __name__:
        return  # inherited through fork: already guarded
    give = sealed_code(
        _WRAPPER, __file__, "give", (key or b"", os.pipe, os.write, os.close, os.dup2)
    )
    wrapper = sealed_code(
        _WRAPPER,
        __file__,
        "fork_exec",
        (
            real,
            rebuild,
            sys.audit,
            LAUNCH_EVENT,
            sys.executable,
            os.fsencode(sys.executable),
            functools.partial,
            give if key else None,
            os.open,
            os.close,
            os.devnull,
            os.O_RDONLY | os.O_CLOEXEC,
            tuple,
            list,
            len,
        ),
    )
    wrapper.__module__ = __name__
    _posixsubprocess.fork_exec = wrapper
    import subprocess  # it bound the original at import: rebound too (a reload takes ours)

    subprocess._fork_exec = wrapper  # type: ignore[attr-defined]  # private, not in typeshed


def read_key(fd: int) -> bytes | None:
    """The work-item key a child is handed on descriptor `fd` (None: none, or cut short)."""
    if fd < 0:
        return None
    try:
        data = b""
        while len(data) < KEY_BYTES and (chunk := os.read(fd, KEY_BYTES - len(data))):
            data += chunk
        return data if len(data) == KEY_BYTES else None
    except OSError:
        return None
    finally:
        try:
            os.close(fd)
        except OSError:
            pass


_compiled(_WRAPPER, __file__)  # here, in the template: not again in every agent it forks
