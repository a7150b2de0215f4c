"""The Docker sandbox against a hostile student: the supervisor runs as another user, so the
student's code cannot kill it, trace it or leave the next run broken."""

from __future__ import annotations

import textwrap

import pytest

from grader.agent import codec
from grader.course import Limits

pytestmark = pytest.mark.docker

HOSTILE = """
import os, signal, subprocess

def kill_parent():
    os.kill(os.getppid(), signal.SIGKILL)
    return "killed"

def kill_everything():
    os.kill(-1, signal.SIGKILL)

def whoami():
    return [os.getuid(), os.geteuid(), os.getgid()]

def lock_up_my_files():
    os.makedirs("trap/inner", exist_ok=True)
    with open("trap/inner/f", "w") as f:
        f.write("x" * 1000)
    os.chmod("trap/inner", 0)
    os.chmod("trap", 0)
    return "locked"

def read_supervisor_environ():
    return open(f"/proc/{os.getppid()}/environ").read()

def write_submission():
    open("/submission/solution.py", "a").write("# changed")
"""


@pytest.fixture(scope="module")
def session(docker_backend, tmp_path_factory):
    folder = tmp_path_factory.mktemp("hostile")
    (folder / "solution.py").write_text(textwrap.dedent(HOSTILE))
    with docker_backend.open(folder, Limits()) as s:
        yield s


def call(session, function):
    return session.call(
        {
            "kind": "call",
            "module": "solution",
            "function": function,
            "args": codec.encode([]),
            "timeout": 10,
        }
    )


def test_student_code_runs_as_the_student(session):
    reply = call(session, "whoami")
    assert codec.decode(reply["value"]) == [1000, 1000, 1000]


def test_killing_the_supervisor_is_refused(session):
    reply = call(session, "kill_parent")
    assert reply["status"] == "exception"
    assert reply["exception"]["type"] == "PermissionError"


def test_killing_every_process_only_reaches_the_students_own(session):
    reply = call(session, "kill_everything")  # kill(-1): the supervisor must survive to reply
    assert reply["status"] == "ok"
    assert codec.decode(call(session, "whoami")["value"]) == [1000, 1000, 1000]


def test_supervisor_environment_is_private(session):
    reply = call(session, "read_supervisor_environ")
    assert reply["status"] == "exception"
    assert reply["exception"]["type"] == "PermissionError"


def test_submission_is_read_only(session):
    reply = call(session, "write_submission")
    assert reply["status"] == "exception"
    assert reply["exception"]["type"] in ("OSError", "PermissionError")


def test_locked_files_do_not_fill_the_sandbox(session):
    for _ in range(3):
        assert codec.decode(call(session, "lock_up_my_files")["value"]) == "locked"
    assert codec.decode(call(session, "whoami")["value"]) == [1000, 1000, 1000]
