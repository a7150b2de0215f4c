"""The trust boundary's parts, one by one, without Docker (tests/test_attacks.py runs the whole
corpus against the Docker sandbox).

- the agent's audit hook: honest code of every kind the exercises use runs untouched and leaves
  no evidence; every way in that tampering needs is refused with PermissionError and evidence;
- the agent's line to the supervisor: forged, garbled, oversized or extra frames are the
  student's crash; connections from foreign processes are refused;
- everything read from the student's side is bounded (`untrusted.clean`), parsed without
  raising (Oclgrind logs, stack dumps, work items) and cleaned up whatever the student left;
- scoring is closed; the static scan flags what tampering needs and nothing in honest code;
- nothing about a request is visible in any process's command line.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import pytest

from grader.agent import channel, codec, untrusted
from grader.agent.frames import parse_faulthandler
from grader.checks import oclgrind
from grader.course import Limits
from grader.errors import PlatformError
from grader.judge import suspicion
from grader.judge.runner import _checked
from grader.protocol import AgentRequest, MalformedMessage, Outcome, Report, TestRecord
from grader.sandbox.local import LocalBackend

ROOT = Path(__file__).resolve().parents[1]

# ---------------------------------------------------------------- the audit hook

HARNESS = """
import json, os, sys
os.chdir({work!r}); sys.path.insert(0, {work!r})
if __name__ == "__main__":
    from grader.agent import audit
    seen = []
    from grader.checks import codeclass
    probe_code = compile("async def probe_step():\\n    return 1\\n\\ndef probe_fn():\\n    return 2\\n",
                         codeclass.PROBE_FILE, "exec")  # a hidden test's probe: trusted, like the agent does
    codeclass.trust(probe_code)
    probe = {{}}
    exec(probe_code, probe)
    from grader.checks import locks, lockset, schedule, tracing
    locks.install({work!r}); lockset.patch_threads(); schedule.patch_threading()
    tracing.install_baseline()  # the wrappers every request has, as the agent installs them
    policy = audit.Policy({work!r}, {run!r}, report=seen.append, allowed_hooks=[tracing.hook()])
    from grader.agent import launch
    launch.guard(bytes(32))  # what starts programs, as the agent guards it
    from grader.agent.agent import _hide_grader
    _hide_grader()
    audit.install(policy)
    import student
    student.PROBE_FN, student.PROBE_STEP = probe["probe_fn"], probe["probe_step"]
    out = {{}}
    for name in {names!r}:
        try:
            out[name] = ["ok", repr(getattr(student, name)())[:300]]
        except PermissionError as exc:
            out[name] = ["denied", str(exc)]
        except Exception as exc:  # noqa: BLE001
            out[name] = ["error", f"{{type(exc).__name__}}: {{exc}}"[:300]]
    print("@@" + json.dumps({{"out": out, "evidence": seen}}))
"""


def _audited(tmp_path, source: str, names: list[str]) -> dict:
    run = tmp_path / "run"
    work = run / "work"
    (run / "out").mkdir(parents=True)
    work.mkdir()
    (work / "student.py").write_text(textwrap.dedent(source))
    harness = tmp_path / "harness.py"
    harness.write_text(HARNESS.format(work=str(work), run=str(run), names=names))
    proc = subprocess.run(
        [sys.executable, str(harness)], capture_output=True, text=True, timeout=120, cwd=ROOT
    )
    line = [ln for ln in proc.stdout.splitlines() if ln.startswith("@@")]
    assert line, proc.stdout[-2000:] + proc.stderr[-3000:]
    return json.loads(line[-1][2:])


HONEST = """
import asyncio, collections, dataclasses, enum, functools, inspect, io, logging, os, pickle
import queue, signal, threading, time, traceback, typing, warnings
import multiprocessing as mp
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor

Point = collections.namedtuple("Point", "x y")


@dataclasses.dataclass
class D:
    a: int = 1


class Color(enum.Enum):
    RED = 1


def sq(x):
    return x * x


def boom():
    raise ValueError("boom")


async def coro(n):
    await asyncio.sleep(0.01)
    return n


def logging_():
    logging.basicConfig(level=logging.INFO, stream=io.StringIO())
    logging.getLogger("x").info("hello %s", 1)
    return True


def tracebacks():
    try:
        boom()
    except ValueError:
        buf = io.StringIO()
        traceback.print_exc(file=buf)
        return "boom" in buf.getvalue() and "boom" in traceback.format_exc()


def thread_exception():
    t = threading.Thread(target=boom)
    t.start()
    t.join()
    return True


def shared_ctypes():
    v = mp.Value("i", 0)
    v.value += 1
    return v.value + len(mp.Array("d", 3))


def fork_pool():
    with ProcessPoolExecutor(2) as pool:
        return list(pool.map(sq, range(4)))


def spawn_pool():
    with ProcessPoolExecutor(2, mp_context=mp.get_context("spawn")) as pool:
        return list(pool.map(sq, range(3)))


def by_reference():  # the checks' wrappers pickle as the library functions they stand in for
    import sys
    for fn in (time.sleep, sys.gettrace, threading.gettrace, threading.Thread.start,
               threading.Thread.join):
        assert pickle.loads(pickle.dumps(fn)) is fn, fn
    p = mp.get_context("spawn").Process(target=time.sleep, args=(0.01,))
    p.start()
    p.join()
    return p.exitcode


def process_queue():
    q = mp.Queue()
    p = mp.Process(target=q.put, args=(5,))
    p.start()
    got = q.get()
    p.join()
    return got


def asyncio_debug():
    return asyncio.run(coro(3), debug=True)


def odds_and_ends():
    warnings.warn("w")
    return [pickle.loads(pickle.dumps(Point(1, 2))), str(inspect.signature(sq)),
            inspect.iscoroutinefunction(coro), D(), Color.RED, typing.TypeVar("T")]


def files_and_sync():
    with open("data.txt", "w") as f:
        f.write("x")
    c = threading.Condition()
    with c:
        c.notify_all()
    q = queue.Queue()
    q.put(1)
    threading.Barrier(1).wait()
    with open("/proc/self/status") as f:
        f.read()
    return open("data.txt").read() + str(q.get())


def probe_metadata():
    return inspect.iscoroutinefunction(PROBE_FN) is False and inspect.iscoroutinefunction(PROBE_STEP)


def stacks_printed():
    buf = io.StringIO()
    traceback.print_stack(file=buf)
    summary = traceback.extract_stack()
    return "stacks_printed" in buf.getvalue() and len(summary) > 2


def files_by_descriptor():  # what tempfile, shutil and os.fwalk do with folder descriptors
    import shutil, tempfile
    with tempfile.TemporaryDirectory(dir=".") as tmp:
        fd = os.open(tmp, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.mkdir("sub", dir_fd=fd)
            os.close(os.open("sub/f", os.O_CREAT | os.O_WRONLY, dir_fd=fd))
            os.rename("sub/f", "sub/g", src_dir_fd=fd, dst_dir_fd=fd)
            walked = sorted(name for _, _, files, _ in os.fwalk(tmp) for name in files)
            listed = sorted(e.name for e in os.scandir(fd))
            os.unlink("sub/g", dir_fd=fd)
            os.open(".", os.O_RDONLY)
        finally:
            os.close(fd)
        shutil.copytree(tmp, "copy")
        shutil.rmtree("copy")
    with tempfile.NamedTemporaryFile() as f:
        f.write(b"x")
    return walked, listed, len(os.listdir("/")) > 0, len(os.listdir("/proc")) > 0


def own_path_for_workers():  # what Parallel Python's Server does for its worker processes
    import sys
    os.environ["PYTHONPATH"] = os.pathsep.join([os.getcwd(), *sys.path])
    return True


def signal_handler():
    got = []
    signal.signal(signal.SIGUSR2, lambda s, frame: got.append(frame))
    os.kill(os.getpid(), signal.SIGUSR2)
    time.sleep(0.05)
    return got == [None]  # handlers get no frame
"""
HONEST_NAMES = [
    "logging_",
    "tracebacks",
    "thread_exception",
    "shared_ctypes",
    "fork_pool",
    "spawn_pool",
    "by_reference",
    "process_queue",
    "asyncio_debug",
    "odds_and_ends",
    "files_and_sync",
    "probe_metadata",
    "stacks_printed",
    "signal_handler",
    "files_by_descriptor",
    "own_path_for_workers",
]


def test_honest_code_runs_untouched_under_the_audit_hook(tmp_path):
    got = _audited(tmp_path, HONEST, HONEST_NAMES)
    assert {name: status for name, (status, _) in got["out"].items()} == dict.fromkeys(
        HONEST_NAMES, "ok"
    ), got["out"]
    assert got["out"]["signal_handler"][1] == "True"
    assert got["evidence"] == []


ROUTES = """
import gc, sys, os, signal, subprocess


def getframe():
    return sys._getframe()


def current_frames():
    return sys._current_frames()


def inspect_frame():
    import inspect
    return inspect.currentframe()


def inspect_stack():
    import inspect
    return inspect.stack()


def walk_stack():
    import traceback
    return next(traceback.walk_stack(None))


def logging_frame():
    import logging
    return logging.currentframe()


def tb_frame():
    try:
        raise ValueError
    except ValueError as exc:
        return exc.__traceback__.tb_frame


def gen_frame():
    def gen():
        yield
    g = gen()
    next(g)
    return g.gi_frame


def coro_frame():
    async def c():
        pass
    co = c()
    try:
        return co.cr_frame
    finally:
        co.close()


def settrace():
    sys.settrace(None)


def setprofile():
    sys.setprofile(None)


def gc_objects():
    return len(gc.get_objects())


def gc_referrers():
    return gc.get_referrers(sys)


def ctypes_call():
    import ctypes
    return ctypes.CDLL(None).getpid()


def ctypes_memory():
    import ctypes
    return ctypes.string_at(id(sys), 8)


def proc_mem():
    return open("/proc/self/mem", "rb").read(1)


def proc_fd():
    return os.listdir("/proc/self/fd")


def out_folder():
    return open("../out/x.txt", "w")


def out_folder_by_library():
    import pathlib
    return pathlib.Path("../out/y.txt").write_text("x")


RUN = os.path.dirname(os.getcwd())
OUT = os.path.join(RUN, "out")


def descriptor_of_root():
    return os.open("/", os.O_RDONLY)


def descriptor_above_run():
    return os.open(os.path.dirname(RUN), os.O_RDONLY | os.O_DIRECTORY)


def descriptor_of_run():
    return os.open("..", os.O_RDONLY)


def descriptor_of_proc():
    return os.open("/proc", os.O_RDONLY)


def descriptor_of_own_proc():
    return os.open("/proc/self", os.O_RDONLY)


def descriptor_of_pid():
    return os.open(f"/proc/{os.getpid()}", os.O_RDONLY | os.O_DIRECTORY)


def descriptor_by_dotdot_from_a_subfolder():
    os.makedirs("a/b", exist_ok=True)
    fd = os.open("a/b", os.O_RDONLY)
    return os.open("../../..", os.O_RDONLY, dir_fd=fd)


def descriptor_by_symlink():
    os.symlink("/", "up")
    return os.open("up", os.O_RDONLY)


def out_folder_from_another_base():
    fd = os.open("/usr", os.O_RDONLY)
    return os.open(".." + OUT + "/x.txt", os.O_CREAT | os.O_WRONLY, dir_fd=fd)


def proc_fd_from_dev():
    fd = os.open("/dev", os.O_RDONLY)
    return os.open("fd", os.O_RDONLY, dir_fd=fd)


def unlink_by_descriptor():
    open("victim", "w").close()
    fd = os.open(".", os.O_RDONLY)
    os.unlink("../out/x.txt", dir_fd=fd)


def rename_out_folder_away():
    fd = os.open(".", os.O_RDONLY)
    os.rename("../out", "gone", src_dir_fd=fd, dst_dir_fd=fd)


def climb_out_of_a_folder_too_deep_to_name():
    fd = os.open(".", os.O_RDONLY)
    for _ in range(20):  # over 4,096 characters: the kernel cannot name the folder any more
        os.mkdir("d" * 250, dir_fd=fd)
        fd = os.open("d" * 250, os.O_RDONLY, dir_fd=fd)
    return os.open("../" * 21 + "out", os.O_RDONLY, dir_fd=fd)


def chdir_above():
    os.chdir("/")


def fwalk_above():
    return next(os.fwalk(RUN))


def spawn():
    return subprocess.run(["true"]).returncode


def system():
    return os.system("true")


def fork_exec():  # no audit event of CPython's
    import _posixsubprocess
    r, w = os.pipe()
    return _posixsubprocess.fork_exec(
        [b"/bin/true"], [b"/bin/true"], True, (), None, None, -1, -1, -1, -1, -1, -1, r, w,
        False, False, -1, None, None, None, -1, None, subprocess._USE_VFORK)


def subprocess_fork_exec():  # subprocess's own binding of it
    r, w = os.pipe()
    return subprocess._fork_exec(
        [b"/bin/true"], [b"/bin/true"], True, (), None, None, -1, -1, -1, -1, -1, -1, r, w,
        False, False, -1, None, None, None, -1, None, subprocess._USE_VFORK)


def multiprocessing_launcher():  # a library's frame calls fork_exec for the student
    from multiprocessing import util
    return util.spawnv_passfds(b"/bin/true", [b"/bin/true"], ())


def fork_exec_afresh():  # a second copy of the C module, its fork_exec unwrapped
    import sys
    del sys.modules["_posixsubprocess"]
    import _posixsubprocess
    return _posixsubprocess


def import_grader():
    import grader.checks.lockset  # noqa: F401


def spoofed_compile():
    import sysconfig
    return compile("x = 1", sysconfig.get_paths()["stdlib"] + "/threading.py", "exec")


def spoofed_code():
    code = compile("x = 1", "<x>", "exec")
    return code.replace(co_filename="<grader probe>")


def crafted_bytecode():  # LOAD_CONST past the end of co_consts: a read of any memory
    def shape():
        return None
    return shape.__code__.replace(co_code=bytes([151, 0, 100, 200, 83, 0]), co_consts=(None,))


def new_code_object():
    import types
    code = compile("x = 1", "<x>", "exec")
    return types.CodeType(*[getattr(code, "co_" + f) for f in (
        "argcount", "posonlyargcount", "kwonlyargcount", "nlocals", "stacksize", "flags",
        "code", "consts", "names", "varnames", "filename", "name", "qualname", "firstlineno",
        "linetable", "exceptiontable", "freevars", "cellvars")])


def _planted_pyc(folder, name):
    import importlib.util, marshal, os
    with open(os.path.join(folder, name + ".pyc"), "wb") as f:  # any bytes could be in there
        f.write(importlib.util.MAGIC_NUMBER + bytes(12) + marshal.dumps(compile("x = 1", "p", "exec")))


def planted_pyc():  # the import system unmarshals a .pyc the student wrote
    import importlib, os, sys
    _planted_pyc(os.getcwd(), "planted")
    sys.path.insert(0, os.getcwd())
    return importlib.import_module("planted")


def planted_pyc_in_zip():  # ... or one in a zip on the path (zipimport)
    import importlib, os, sys, tempfile, zipfile
    folder = tempfile.mkdtemp(dir=os.getcwd())
    _planted_pyc(folder, "zipped")
    archive = os.path.join(os.getcwd(), "z.zip")
    with zipfile.ZipFile(archive, "w") as z:
        z.write(os.path.join(folder, "zipped.pyc"), "zipped.pyc")
    sys.path.insert(0, archive)
    return importlib.import_module("zipped")


def marshal_load_file():  # marshal.load of a file: its own audit event
    import io, marshal
    return marshal.load(io.BytesIO(marshal.dumps(compile("x = 1", "m", "exec"))))


def compile_bytecode_directly():  # the import system's unmarshalling function, called by hand
    import importlib._bootstrap_external as external, marshal
    return external._compile_bytecode(marshal.dumps(compile("x = 1", "m", "exec")))


def loader_claims_a_library_pyc():  # a loader of the student's names a library's file ...
    import importlib.machinery, importlib.util, marshal, os
    source = os.path.join(os.path.dirname(os.__file__), "colorsys.py")
    real = importlib.util.cache_from_source(source)
    body = marshal.dumps(compile("x = 1", "m", "exec"))  # ... and hands over bytes of its own

    class Loader(importlib.machinery.SourceFileLoader):
        def get_data(self, path):
            return open(real, "rb").read()[:16] + body if path == real else super().get_data(path)

    return Loader("colorsys_again", source).get_code("colorsys_again")


def frames_by_library_iteration():
    import heapq, traceback
    return heapq.nsmallest(1, traceback.walk_stack(None), key=lambda item: item[1])


def locals_by_summary():
    import traceback
    return traceback.StackSummary.extract(traceback.walk_stack(None), capture_locals=True)


def probe_code():
    return PROBE_FN.__code__


def probe_coroutine_code():
    coro = PROBE_STEP()
    try:
        return coro.cr_code
    finally:
        coro.close()


def probe_disassembly():
    import dis
    return dis.Bytecode(PROBE_FN).dis()


def environment():
    import os
    os.environ["LD_PRELOAD"] = ""


def import_path():
    import os
    os.environ["PYTHONPATH"] = "/tmp/shadow"


def native_module():
    import importlib.machinery, shutil, socket, sys
    library = socket._socket.__file__  # any extension module: a copy of the standard library's
    shutil.copy(library, "_socket" + importlib.machinery.EXTENSION_SUFFIXES[0])
    sys.modules.pop("_socket")
    import _socket  # noqa: F401 - now from the work folder
"""
ROUTE_NAMES = [
    "getframe",
    "current_frames",
    "inspect_frame",
    "inspect_stack",
    "walk_stack",
    "logging_frame",
    "tb_frame",
    "gen_frame",
    "coro_frame",
    "settrace",
    "setprofile",
    "gc_objects",
    "gc_referrers",
    "ctypes_call",
    "ctypes_memory",
    "proc_mem",
    "proc_fd",
    "out_folder",
    "out_folder_by_library",
    "descriptor_of_root",
    "descriptor_above_run",
    "descriptor_of_run",
    "descriptor_of_proc",
    "descriptor_of_own_proc",
    "descriptor_of_pid",
    "descriptor_by_dotdot_from_a_subfolder",
    "descriptor_by_symlink",
    "out_folder_from_another_base",
    "proc_fd_from_dev",
    "unlink_by_descriptor",
    "rename_out_folder_away",
    "climb_out_of_a_folder_too_deep_to_name",
    "chdir_above",
    "fwalk_above",
    "spawn",
    "system",
    "fork_exec",
    "subprocess_fork_exec",
    "multiprocessing_launcher",
    "fork_exec_afresh",
    "import_grader",
    "spoofed_compile",
    "spoofed_code",
    "crafted_bytecode",
    "new_code_object",
    "planted_pyc",
    "planted_pyc_in_zip",
    "marshal_load_file",
    "compile_bytecode_directly",
    "loader_claims_a_library_pyc",
    "frames_by_library_iteration",
    "locals_by_summary",
    "probe_code",
    "probe_coroutine_code",
    "probe_disassembly",
    "native_module",
    "environment",
    "import_path",
]


def test_every_way_in_is_refused_and_leaves_evidence(tmp_path):
    got = _audited(tmp_path, ROUTES, ROUTE_NAMES)
    not_denied = {n: v for n, v in got["out"].items() if v[0] != "denied"}
    assert not not_denied, not_denied
    assert all("not allowed in graded code" in msg for _, msg in got["out"].values())
    assert len(got["evidence"]) >= len(ROUTE_NAMES)
    assert all(e.get("file") == "student.py" and e.get("line") for e in got["evidence"]), got[
        "evidence"
    ][:3]


# ---------------------------------------------------------------- the line to the supervisor


AGENT_REQUEST = AgentRequest(
    kind="call", module="m", function="f", outdir="/o", rundir="/r", items_key="ab" * 32
)


def _board(tmp_path, expected=1, is_ours=lambda pid: pid == os.getpid()):
    return channel.Switchboard(str(tmp_path), expected, AGENT_REQUEST, is_ours=is_ours)


def _raw(board) -> socket.socket:
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    conn.connect(board.path)
    return conn


def _link(board) -> channel.Link:
    """The board's one link, once its reader has seen the end of the line."""
    board.settle()
    return board.links[0]


def test_a_signed_result_is_accepted(tmp_path):
    board = _board(tmp_path)
    line = channel.connect(board.path)
    assert line.request == AGENT_REQUEST and line.request is not AGENT_REQUEST
    line.called()
    line.result({"status": "ok", "value": 3})
    line._conn.close()
    link = _link(board)
    assert (link.called, link.problem, json.loads(link.result)) == (
        True,
        "",
        {"status": "ok", "value": 3},
    )
    board.close()


@pytest.mark.parametrize(
    "garbage, why",
    [
        (b"R\x00\x00\x00\x05" + bytes(32) + b"hello", "did not sign"),
        (b"R\x7f\xff\xff\xff", "frame of"),
        (b"X\x00\x00\x00\x00" + bytes(32), "unknown frame type"),
        (b"R\x00\x00", "cut off"),
    ],
)
def test_forged_or_garbled_frames_are_not_believed(tmp_path, garbage, why):
    board = _board(tmp_path)
    line = channel.connect(board.path)
    os.write(line._conn.fileno(), garbage)  # what the student's code can do: write to the fd
    line._conn.close()
    link = _link(board)
    assert why in link.problem and link.result is None
    board.close()


def test_a_second_result_is_not_believed(tmp_path):
    board = _board(tmp_path)
    line = channel.connect(board.path)
    line.send(channel.RESULT, b'{"status": "ok"}')
    line.send(channel.RESULT, b'{"status": "ok"}')
    line._conn.close()
    assert "after its result" in _link(board).problem
    board.close()


def test_foreign_processes_are_refused_and_nothing_is_handed_out_before_all_connect(tmp_path):
    board = _board(tmp_path, expected=2, is_ours=lambda pid: False)
    stranger = _raw(board)
    stranger.settimeout(2)
    assert stranger.recv(10) == b""  # closed at once, no request
    assert board.refused and "not one of this request's agents" in board.refused[0]
    board.close()
    (tmp_path / "b").mkdir()
    board = _board(tmp_path / "b", expected=2, is_ours=lambda pid: True)
    first = _raw(board)
    first.settimeout(0.5)
    with pytest.raises(socket.timeout):  # one of two agents: no request yet
        first.recv(10)
    again = _raw(board)  # the same process once more: refused
    again.settimeout(2)
    assert again.recv(1) == b""
    second = subprocess.run(  # another process: now both get the request
        [
            sys.executable,
            "-c",
            "import socket, sys; s = socket.socket(socket.AF_UNIX); "
            f"s.connect({board.path!r}); sys.stdout.write(repr(s.recv(1)))",
        ],
        capture_output=True,
        text=True,
        timeout=10,
    )
    first.settimeout(5)
    assert second.stdout == repr(channel.REQUEST) and first.recv(1) == channel.REQUEST
    board.close()


def test_the_agent_encodes_and_signs_with_what_it_bound_before_the_students_code(monkeypatch):
    import hmac
    import json as json_module

    monkeypatch.setattr(hmac, "new", lambda *a, **k: 1 / 0)
    monkeypatch.setattr(json_module.JSONEncoder, "iterencode", lambda *a, **k: 1 / 0)
    assert json.loads(channel._dumps({"races": [1]})) == {"races": [1]}
    assert len(channel._mac(b"k", channel.RESULT, b"x")) == channel.MAC_BYTES


# ---------------------------------------------------------------- what the student's side wrote


def test_clean_bounds_depth_size_and_characters():
    deep = "x"
    for _ in range(5000):
        deep = [deep]
    got = untrusted.clean(
        {"a": deep, "s": "\ud800 bad \x00", 3: 2**20000, "f": float("inf"), "fib": 2**300},
        max_depth=10,
    )
    text = json.dumps(got)
    assert "nested too deep" in text and text.encode("utf-8")
    assert (
        got["s"] == "\ufffd bad \ufffd" and got["3"] == "<int of 20001 bits>" and got["f"] == "inf"
    )
    assert got["fib"] == 2**300  # a big value the student returned is kept whole
    assert untrusted.clean(list(range(10)), max_items=5)[-1] == "<cut: too many items>"


def test_signals_are_named_whatever_their_number():
    import signal

    assert untrusted.signal_name(9) == "SIGKILL"
    assert untrusted.signal_name(signal.SIGRTMIN + 1) == "SIGRTMIN+1"
    assert untrusted.signal_name(250) == "signal 250"


def test_oclgrind_logs_with_huge_numbers_parse():
    big = "9" * 5000
    text = (
        f"Invalid write of size 4 at global memory address 0x{big}\n\tKernel: k\n"
        f"\tEntity: Global({big},0,0)\n\tAt line {big} (column {big}) of input.cl:\n"
    )
    found = oclgrind.parse_log(text)
    assert found and found[0]["kind"] == "out-of-bounds" and "work_item" not in found[0]


def test_stack_dumps_are_parsed_fast_and_only_the_submissions_files_are_the_students():
    work = "/work/run-x/work"
    fake = work + "/" + "x/.." * 30000 + "/solution.py"
    dump = "Thread 0x1 (most recent call first):\n" + "".join(
        f'  File "{name}", line {i} in f\n'
        for i, name in enumerate(
            [
                fake,
                work + "/solution.py",
                work + "/../../etc/shadow",
                "/usr/lib/python3.11/threading.py",
            ]
            * 50,
            1,
        )
    )
    t0 = time.monotonic()
    threads = parse_faulthandler(dump * 16, work, {"solution.py": ["a = 1", "b = 2"]})
    assert time.monotonic() - t0 < 1.0
    frames = [f for t in threads for f in t["frames"]]
    assert {f["file"] for f in frames if f["student"]} == {"solution.py"}
    assert all(f["code"] == "" for f in frames if not f["student"])


def test_proc_is_read_whatever_bytes_a_thread_names_itself(tmp_path):
    """A process may write any bytes into its threads' names (/proc/self/task/TID/comm): the
    supervisor's tree poll and the deadlock prover read them without raising (a
    UnicodeDecodeError was a sandbox-error: tests/attacks/thread_name_bad_bytes)."""
    from grader.agent import stuck, supervisor

    child = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent("""
        import os, sys, threading
        with open(f"/proc/self/task/{threading.get_native_id()}/comm", "wb") as f:
            f.write(b"\\xff\\xfe) Z 0")
        print("named", flush=True)
        sys.stdin.read()
    """),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    try:
        assert child.stdout.readline() == b"named\n"
        with open(f"/proc/{child.pid}/comm", "rb") as f:
            assert f.read().startswith(b"\xff\xfe")
        assert supervisor._proc_stat(child.pid)[0] == os.getpid()  # its parent, read right
        assert child.pid in supervisor.descendants(os.getpid())
        stuck.snapshot([child.pid])  # a reader blocked on stdin: no proof, and no exception
        assert supervisor.running_threads([child.pid], snapshots=1) == 0
    finally:
        child.stdin.close()
        child.wait()


def test_a_deep_unreadable_run_folder_is_removed(tmp_path):
    from grader.agent.supervisor import _remove_run, _room_to_run

    run = tmp_path / "run-1"
    (run / "out").mkdir(parents=True)
    (run / "work").mkdir()
    fd = os.open(run / "work", os.O_RDONLY)
    for _ in range(1300):  # deeper than any recursive walk goes
        os.mkdir("d", dir_fd=fd)
        fd, old = os.open("d", os.O_RDONLY, dir_fd=fd), fd
        os.close(old)
    os.close(os.open("f", os.O_WRONLY | os.O_CREAT, dir_fd=fd))
    os.fchmod(fd, 0)
    os.close(fd)
    assert "could not be removed" in _room_to_run(str(tmp_path))
    assert _remove_run(str(run), None)
    assert _room_to_run(str(tmp_path)) == ""


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root: the student's uid is another one")
def test_a_usual_run_folder_is_removed_without_starting_a_process(monkeypatch):
    """The student empties its own work/ and out/ (modes it set included) in the run folder it
    may not write, with the student's file permissions (the supervisor's file-system ids, for
    that moment), and the supervisor removes what is left: no process is forked or exec'd, a
    link of the student's is removed and not what it points to, and the supervisor's own ids
    are back afterwards."""
    from grader.agent import supervisor

    user = {"uid": 65534, "gid": 65534}
    workroot = Path(tempfile.mkdtemp())  # the student may pass through it, as through /work
    workroot.chmod(0o711)
    run = workroot / "run-1"
    run.mkdir(mode=0o755)
    run.chmod(0o755)
    (run / "agent.sock").write_text("ours")
    precious = workroot / "precious"
    precious.write_text("the grader's")
    for part in ("work", "out"):
        deep = run / part / "a" / "b"
        deep.mkdir(parents=True)
        (deep / "f.txt").write_text("x")
        (deep / "link").symlink_to(precious)
        for path in (run / part, run / part / "a", deep, deep / "f.txt", deep / "link"):
            os.lchown(path, user["uid"], user["gid"])
        (run / part / "a").chmod(0)  # the student's code may close its own folders
    started = []
    monkeypatch.setattr(supervisor, "_run_as", lambda *a, **k: started.append(a))
    monkeypatch.setattr(os, "fork", lambda: started.append("fork") or 1 / 0)
    try:
        assert supervisor._remove_run(str(run), user)
        assert not run.exists()
        assert started == []
        assert precious.read_text() == "the grader's"
        me = os.geteuid()
        assert supervisor._libc.setfsuid(-1) == me and supervisor._libc.setfsgid(-1) == 0
    finally:
        subprocess.run(["rm", "-rf", str(workroot)], check=True)


# ---------------------------------------------------------------- closed scoring


def _report(records, collected, exitstatus=1, failures=()):
    return Report(
        tests=records,
        collected=collected,
        failures=list(failures),
        broken_test_files=[],
        exitstatus=exitstatus,
    )


def _rec(nodeid):
    return TestRecord(
        nodeid=nodeid,
        function=nodeid,
        name=nodeid,
        visibility="public",
        status=Outcome.PASSED,
        message="",
        details={},
        duration=0.0,
        seed=None,
    )


def test_scoring_is_closed():
    rec = _rec
    assert _checked(_report([rec("a"), rec("b")], ["a", "b"]), [], None, 1)
    with pytest.raises(PlatformError, match="1 of 2 collected tests"):
        _checked(_report([rec("a")], ["a", "b"]), [], None, 1)
    with pytest.raises(PlatformError, match="exited with code 3"):
        _checked(_report([rec("a")], ["a"]), [], None, 3)
    with pytest.raises(PlatformError, match="plugin failed"):
        _checked(_report([rec("a")], ["a"], failures=["x: RecursionError"]), [], None, 1)
    with pytest.raises(PlatformError, match="never collected"):
        _checked(_report([rec("a"), rec("z")], ["a"]), [], None, 1)


def test_a_report_is_read_strictly(tmp_path):
    """A report round-trips; one with an unknown field, a missing one, an outcome no plugin
    writes, or that is not JSON at all is refused (the runner makes that a PlatformError)."""
    path = tmp_path / "report.json"
    _report([_rec("a")], ["a"]).write(path)
    back = Report.read(path)
    assert back.tests == [_rec("a")] and back.tests[0].status is Outcome.PASSED
    good = json.loads(path.read_text())
    bad = [
        {**good, "extra": 1},
        {k: v for k, v in good.items() if k != "tests"},
        {**good, "tests": [{**good["tests"][0], "status": "excellent"}]},
        {**good, "tests": [{**good["tests"][0], "score": 10}]},
        {**good, "tests": {}},
        [],
    ]
    for data in bad:
        path.write_text(json.dumps(data))
        with pytest.raises(MalformedMessage):
            Report.read(path)
    for text in ("{", "[" * 100_000 + "]" * 100_000):
        path.write_text(text)
        with pytest.raises(MalformedMessage):
            Report.read(path)


# ---------------------------------------------------------------- suspicion


def test_the_static_scan_flags_common_honest_idioms_not():
    source = "import importlib, sys\nthis = sys.modules[__name__]\nmath = importlib.import_module('math')\n"
    assert suspicion.scan_source(source, "solution.py") == []


def test_the_static_scan_flags_no_honest_submission():
    folders = {p.parent for p in (ROOT / "solutions").rglob("solution.py")}
    folders |= {p for p in (ROOT / "sample_class").rglob("*") if p.is_dir()}
    folders |= {p.parent for p in (ROOT / "exercises").rglob("skeleton/*.py")}
    flagged = {str(f.relative_to(ROOT)): suspicion.scan(f) for f in folders}
    assert len(folders) > 100
    assert {k: v for k, v in flagged.items() if v} == {}


def test_the_static_scan_flags_what_tampering_needs():
    source = textwrap.dedent("""
        import sys, gc, ctypes
        from grader.checks import lockset
        def f():
            frame = sys._getframe()
            g = f.__globals__
            return frame.f_back, gc.get_objects(), sys.gettrace(), open("/proc/self/mem")
    """)
    reasons = {item["reason"] for item in suspicion.scan_source(source, "solution.py")}
    for needle in (
        "C code",
        "grader's own modules",
        "takes a frame",
        "globals",
        "walks up the call stack",
        "every object",
        "looks for a tracer",
        "/proc",
    ):
        assert any(needle in r for r in reasons), (needle, reasons)


def test_the_agent_notices_what_the_students_code_rebound():
    import builtins

    from grader.agent.integrity import Snapshot

    class Check:
        name = "c"

        def stop(self):
            return {}

    check = Check()
    snap = Snapshot([check])
    assert snap.changes() == []
    real_len = builtins.len
    try:
        builtins.len = lambda x: 0
        check.stop = lambda: {"intact": True}
        changes = snap.changes()
    finally:
        builtins.len = real_len
    assert "builtins.len replaced" in changes
    assert any("stop() replaced on its object" in c for c in changes)


def test_pythonpath_naming_only_known_folders_is_not_a_change(monkeypatch):
    """Parallel Python's Server gives its workers the parent's own path: no false accusation.
    A folder the process does not import from could shadow the grader's code in a child."""
    import sys

    from grader.agent.integrity import Snapshot

    monkeypatch.delenv("PYTHONPATH", raising=False)
    snap = Snapshot([])
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([os.getcwd(), *sys.path]))
    assert snap.changes() == []
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([*sys.path, "/tmp/shadow"]))
    assert snap.changes() == ["os.environ['PYTHONPATH'] changed"]


# ---------------------------------------------------------------- nothing in any command line

SNOOP = """
import glob, os

def snoop():
    seen = []
    for path in glob.glob("/proc/[0-9]*/cmdline") + glob.glob("/proc/[0-9]*/environ"):
        try:
            with open(path, "rb") as f:
                seen.append(f.read().decode(errors="replace"))
        except OSError:
            pass
    return "\\n".join(seen)
"""


def test_no_request_in_any_command_line_or_environment(tmp_path):
    (tmp_path / "solution.py").write_text(textwrap.dedent(SNOOP))
    secret = "def _probe_with_a_secret_name(mod):\n    return mod.snoop()\n"
    with LocalBackend().open(tmp_path, Limits()) as session:
        reply = session.call(
            {
                "kind": "run",
                "module": "solution",
                "probe": {"source": secret, "name": "_probe_with_a_secret_name"},
                "args": codec.encode([]),
                "kwargs": codec.encode({}),
                "timeout": 10,
            }
        )
    assert reply["status"] == "ok", reply
    seen = codec.decode(reply["value"])
    assert "grader.agent.server" in seen  # the supervisor server's command line was readable...
    assert "_probe_with_a_secret_name" not in seen and "probe" not in seen  # ...and said nothing


FINGERPRINT = """
import sys, threading, _thread


class C:
    pass


def fingerprint():
    lock = threading.Lock()
    return [type(lock).__module__, type(lock).__name__, repr(lock).split(" at ")[0],
            sys.gettrace() is None, threading.gettrace() is None,
            C.__setattr__ is object.__setattr__, threading.Thread.start.__qualname__,
            type(threading.RLock()).__name__]
"""


def test_checked_and_plain_requests_look_alike_to_the_students_code(tmp_path):
    """What code written to behave only while observed looks at answers the same with the race
    checks on and off (tests/attacks/instrumentation_detect)."""
    (tmp_path / "solution.py").write_text(textwrap.dedent(FINGERPRINT))
    seen = []
    with LocalBackend().open(tmp_path, Limits()) as session:
        for checks in ({}, {"lockset": {}}, {"preempt": {"seed": 1}}):
            reply = session.call(
                {
                    "kind": "call",
                    "module": "solution",
                    "function": "fingerprint",
                    "args": codec.encode([]),
                    "timeout": 10,
                    "checks": checks,
                }
            )
            assert reply["status"] == "ok", reply
            seen.append(codec.decode(reply["value"]))
    assert seen[0] == seen[1] == seen[2], seen
    assert seen[0][:5] == ["_thread", "lock", "<unlocked _thread.lock object", True, True]


BENT = """
import builtins, time

_real = time.perf_counter
time.perf_counter = lambda: _real() / 100  # a clock a hundred times slow
builtins.divmod = lambda a, b: (0, 0)


def nothing():
    return None
"""


def test_the_probe_keeps_the_clock_and_builtins_the_students_code_bent(tmp_path):
    (tmp_path / "solution.py").write_text(textwrap.dedent(BENT))
    probe = textwrap.dedent("""
        def _measure(mod):
            import time
            t0 = time.perf_counter()
            time.sleep(0.2)
            return [round(time.perf_counter() - t0, 1), list(divmod(7, 2))]
    """)
    with LocalBackend().open(tmp_path, Limits()) as session:
        reply = session.call(
            {
                "kind": "run",
                "module": "solution",
                "probe": {"source": probe, "name": "_measure"},
                "args": codec.encode([]),
                "kwargs": codec.encode({}),
                "timeout": 10,
            }
        )
    assert reply["status"] == "ok", reply
    assert codec.decode(reply["value"]) == [0.2, [3, 1]]
    # Measured by the supervisor, between the arrivals of two signed frames: within their delivery
    # jitter (a frame read a few ms late by a busy supervisor), never the student's clock.
    assert 0.19 <= reply["call_wall"] < 1


def test_undumpable_closes_the_process():
    """The agent and the template call one `undumpable` (grader.agent.nodump): afterwards the
    kernel says the process is not dumpable (no ptrace, no core, /proc files root's)."""
    import ctypes

    from grader.agent.nodump import undumpable

    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            get = ctypes.CDLL(None).prctl
            get(4, 1, 0, 0, 0)  # PR_SET_DUMPABLE: an earlier test may have cleared it
            before = get(3, 0, 0, 0, 0)  # PR_GET_DUMPABLE
            undumpable()
            os.write(w, bytes([before, get(3, 0, 0, 0, 0)]))
        finally:
            os._exit(0)
    os.close(w)
    got = os.read(r, 2)
    os.close(r)
    os.waitpid(pid, 0)
    assert got == bytes([1, 0])


AUDIT_HOOK = """
import sys

def add_audit_hook():
    seen = []
    sys.addaudithook(lambda event, args: seen.append(event) if event == "compile" else None)
    compile("x = 1", "anything.py", "exec")  # what the agent does with a hidden probe's source
    return "the hook saw compile" if seen else "the hook was never added"
"""


def test_an_audit_hook_of_the_students_is_never_added(tmp_path):
    """A hook of the student's would get every later event's arguments: the hidden probes'
    source in `compile` (tests/attacks/student_audit_hook_reads_probe). CPython swallows a
    refusal of sys.addaudithook (it returns None), so the hook is simply not added; the refusal
    is evidence all the same."""
    got = _audited(tmp_path, AUDIT_HOOK, ["add_audit_hook"])
    assert got["out"]["add_audit_hook"] == ["ok", "'the hook was never added'"], got["out"]
    assert [e["event"] for e in got["evidence"]] == ["sys.addaudithook"], got["evidence"]
    assert got["evidence"][0]["file"] == "student.py"
