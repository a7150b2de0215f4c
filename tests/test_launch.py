"""grader.agent.launch: which command lines multiprocessing's children get, and nothing else."""

from __future__ import annotations

import os
import sys

from grader.agent import launch

EXE = sys.executable
SPAWN = "from multiprocessing.spawn import spawn_main; spawn_main(tracker_fd=5, pipe_handle=7)"
ARM = "__import__('grader.agent.agent', fromlist=['arm_child']).arm_child(%d); "


def rebuild(argv, keep=(5, 7), key_fd=9, exe=EXE):
    return launch.rebuild(argv, [os.fsencode(exe)], keep, exe, key_fd)


def test_a_spawned_child_is_armed_first_and_gets_the_key_descriptor():
    argv, keep, key_fd = rebuild(
        [EXE, "-X", "dev", "-W", "x", "-c", SPAWN, "--multiprocessing-fork"]
    )
    assert argv[0] == EXE and argv[-1] == "--multiprocessing-fork" and "-I" in argv
    assert "-X" not in argv and "-W" not in argv  # the caller's options never reach the child
    assert argv[argv.index("-c") + 1] == ARM % 9 + SPAWN
    assert keep == (5, 7, 9) and key_fd == 9


def test_without_a_key_the_child_is_armed_all_the_same():
    argv, keep, key_fd = rebuild([EXE, "-c", SPAWN, "--multiprocessing-fork"], key_fd=-1)
    assert argv[argv.index("-c") + 1] == ARM % -1 + SPAWN and keep == (5, 7) and key_fd == -1


def test_the_fork_server_is_armed_and_its_preload_rebuilt_from_literals():
    code = "from multiprocessing.forkserver import main; main(5, 7, ['solution'], **{'sys_path': ['/w']})"
    argv, keep, _ = rebuild([EXE, "-c", code])
    assert argv[argv.index("-c") + 1] == ARM % 9 + code and keep == (5, 7, 9)
    injected = code.replace("['solution']", "[__import__('os').system('id')]")
    assert rebuild([EXE, "-c", injected]) is None


def test_the_resource_tracker_runs_no_student_code_and_gets_no_key():
    code = "from multiprocessing.resource_tracker import main;main(5)"
    argv, keep, key_fd = rebuild([EXE, "-c", code], keep=(5,))
    assert argv == [EXE, *launch._flags(), "-c", code] and keep == (5,) and key_fd == -1


def test_anything_else_is_not_multiprocessings_child():
    assert rebuild([b"/bin/sh", b"-c", b"env"], exe=EXE) is None
    assert (
        launch.rebuild(
            ["/bin/sh", "-c", SPAWN, "--multiprocessing-fork"], [b"/bin/sh"], (5, 7), EXE, 9
        )
        is None
    )
    assert rebuild([EXE, "-c", SPAWN + "; import os", "--multiprocessing-fork"]) is None
    assert rebuild([EXE, "-c", SPAWN]) is None  # spawn_main refuses to run without the flag
    assert (
        rebuild([EXE, "-c", SPAWN, "--multiprocessing-fork"], keep=(5,)) is None
    )  # fd 7 not passed
    assert rebuild([EXE, "-m", "grader.agent.bootstrap"]) is None


GUARDED = r"""
import multiprocessing as mp, os, subprocess, sys


def look(q):
    env = open("/proc/self/environ", "rb").read() + " ".join(sys.argv).encode()
    q.put([KEY.hex().encode() in env, sys.flags.isolated])


KEY = bytes(range(32))
if __name__ == "__main__":
    from grader.agent import launch

    launch.guard(KEY)
    seen = []
    sys.addaudithook(lambda e, a: seen.append(a[1]) if e == launch.LAUNCH_EVENT else None)
    ctx = mp.get_context(sys.argv[1])
    q = ctx.Queue()
    p = ctx.Process(target=look, args=(q,))
    p.start()
    print(q.get(timeout=60), p.join() or p.exitcode)
    subprocess.run(["/bin/true"], check=True)
    print(seen)
"""


def test_spawned_children_get_no_key_in_their_environment_and_other_programs_are_seen(tmp_path):
    import subprocess

    (tmp_path / "guarded.py").write_text(GUARDED)
    for method in ("spawn", "forkserver"):
        out = subprocess.run(
            [sys.executable, "guarded.py", method],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert out.returncode == 0, out.stderr
        lines = out.stdout.splitlines()
        assert lines[0] == "[False, 1] 0", (method, out.stdout, out.stderr)
        assert lines[1] == "[['/bin/true']]", (method, out.stdout)
