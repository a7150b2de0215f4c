"""The session-end check (tests/leftovers.py, tests/conftest.py): a server or process a test
leaves running is killed and named, and the session fails; a clean session passes."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import psutil

HERE = Path(__file__).resolve().parent

LEAKY = """
import subprocess


def test_leaves_a_daemon_behind():
    # double fork: the daemon is reparented away from pytest, as epmd or a postmaster would be
    subprocess.run(["sh", "-c", "sleep 301 </dev/null >/dev/null 2>&1 &"], check=True)


def test_leaves_a_child_behind():
    subprocess.Popen(["sleep", "302"], start_new_session=True, env={"PATH": "/usr/bin:/bin"})
"""

CLEAN = """
import subprocess


def test_stops_what_it_starts():
    proc = subprocess.Popen(["sleep", "303"])
    proc.kill()
    proc.wait()
"""


def _session(tmp_path: Path, source: str) -> subprocess.CompletedProcess:
    (tmp_path / "test_it.py").write_text(source)
    shutil.copy(HERE / "conftest.py", tmp_path / "conftest.py")
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")]),
    }
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "-p",
            "no:xdist",
            "--rootdir",
            str(tmp_path),
            str(tmp_path),
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def _sleeping(seconds: str) -> list[int]:
    found = []
    for proc in psutil.process_iter(["cmdline"]):
        if proc.info["cmdline"] and proc.info["cmdline"][-2:] == ["sleep", seconds]:
            found.append(proc.pid)
    return found


def test_what_a_session_leaves_running_is_killed_named_and_fails_it(tmp_path):
    done = _session(tmp_path, LEAKY)
    out = done.stdout + done.stderr
    assert "2 passed" in out, out
    assert done.returncode == 1, out
    assert re.search(r"left running when the session ended \(2, now killed\)", out), out
    assert "sleep 301" in out and "sleep 302" in out  # the orphan (found by its tag) and the child
    assert _sleeping("301") == [] and _sleeping("302") == []


def test_a_session_that_stops_what_it_starts_passes(tmp_path):
    done = _session(tmp_path, CLEAN)
    out = done.stdout + done.stderr
    assert done.returncode == 0 and "left running" not in out, out
