"""A process name is whatever bytes its program set (prctl PR_SET_NAME): the supervisor's
reading of /proc must not fail on one that is not UTF-8. It did: any process on the host (the
student's own, in the sandbox) named so turned every test of the run into a grader error."""

from __future__ import annotations

import os
import subprocess
import sys
import time

from grader.agent.supervisor import _runnable, descendants

NAMER = r"""
import ctypes, time
ctypes.CDLL(None).prctl(15, b"\xff\xfe)x) S 1", 0, 0, 0)  # PR_SET_NAME, not UTF-8, with ') '
open("/dev/stdout", "w").write("named\n")
while True:
    sum(range(1000))  # always runnable
"""


def test_non_utf8_process_name_is_read():
    child = subprocess.Popen([sys.executable, "-c", NAMER], stdout=subprocess.PIPE)
    try:
        assert child.stdout.readline() == b"named\n"
        with open(f"/proc/{child.pid}/comm", "rb") as f:
            assert f.read().startswith(b"\xff\xfe")
        found = descendants(os.getpid())
        assert child.pid in found
        deadline = time.monotonic() + 5
        while child.pid not in _runnable([child.pid]) and time.monotonic() < deadline:
            time.sleep(0.01)
        assert child.pid in _runnable([child.pid])
    finally:
        child.kill()
        child.wait()
