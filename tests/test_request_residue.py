"""Nothing one request of the student's leaves outside its run folder reaches the next request.

/tmp and /dev/shm are shared by every request of a container: a file left there lets the
student's code count its requests, and the tests run in a fixed order, so it could tell the
request that checks for races from the plain ones and take its lock only there
(tests/attacks/tmp_request_counter). The supervisor removes what the student's uid left there
after each request, as that uid, and has the container recycled when it cannot (a tree too big
for the quick way, too many entries, System V IPC objects)."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from grader.agent import supervisor

STUDENT = {"uid": 1000, "gid": 1000}

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="files of another uid need root")


@pytest.fixture
def scratch(monkeypatch):
    # the student's uid must reach the folders: not under pytest's own (mode 0700) tmp_path
    root = Path(tempfile.mkdtemp(prefix="pgrader-residue-"))
    root.chmod(0o755)
    folders = [root / "tmp", root / "shm"]
    for folder in folders:
        folder.mkdir()
        folder.chmod(0o1777)  # sticky and world-writable, as /tmp and /dev/shm are
    monkeypatch.setattr(supervisor, "SHARED_SCRATCH", tuple(str(f) for f in folders))
    monkeypatch.setattr(supervisor, "_sysv_objects", lambda uid: False)
    yield folders
    subprocess.run(["chmod", "-R", "u+rwx", str(root)], check=False)
    shutil.rmtree(root)


def _as_student(path):
    os.lchown(path, STUDENT["uid"], STUDENT["gid"])


@needs_root
def test_what_the_student_left_is_removed_and_the_rest_kept(scratch):
    tmp, shm = scratch
    counter = tmp / ".calls"
    counter.write_text("7")
    _as_student(counter)
    nested = tmp / "hidden" / "deeper"
    nested.mkdir(parents=True)
    (nested / "state").write_text("x")
    for path in (tmp / "hidden", nested, nested / "state"):
        _as_student(path)
    nested.chmod(0)  # unreadable to its owner: the quick removal makes it its own first
    segment = shm / "psm_counter"
    segment.write_bytes(b"\0" * 64)
    _as_student(segment)
    ours = tmp / "root-owned"
    ours.write_text("not the student's")

    assert supervisor._clear_scratch(STUDENT)
    assert sorted(os.listdir(tmp)) == ["root-owned"]
    assert os.listdir(shm) == []


@needs_root
def test_residue_that_cannot_be_removed_quickly_recycles_the_container(scratch, monkeypatch):
    tmp, _ = scratch
    tree = tmp / "tree"
    tree.mkdir()
    _as_student(tree)
    for i in range(5):
        (tree / str(i)).write_text("")
        _as_student(tree / str(i))
    monkeypatch.setattr(supervisor, "MAX_QUICK_ENTRIES", 3)
    assert not supervisor._clear_scratch(STUDENT)  # no slow removal: a fresh container instead


@needs_root
def test_too_many_entries_recycle_the_container(scratch, monkeypatch):
    tmp, _ = scratch
    monkeypatch.setattr(supervisor, "MAX_SCRATCH_ENTRIES", 4)
    for i in range(5):
        (tmp / str(i)).write_text("")
    assert not supervisor._clear_scratch(STUDENT)


@needs_root
def test_system_v_objects_recycle_the_container(scratch, monkeypatch):
    monkeypatch.setattr(supervisor, "_sysv_objects", lambda uid: uid == 1000)
    assert not supervisor._clear_scratch(STUDENT)


def test_sysv_table_is_read_by_its_uid_column(tmp_path, monkeypatch):
    table = (
        "       key      shmid perms                  size  cpid  lpid nattch   uid   gid\n"
        "         0          3   600                  4096    12    12      0  1000  1000\n"
    )
    real_open = open

    def fake_open(path, *args, **kwargs):
        if str(path) == "/proc/sysvipc/shm":
            target = tmp_path / "shm"
            target.write_text(table)
            return real_open(target, *args, **kwargs)
        if str(path).startswith("/proc/sysvipc/"):
            raise FileNotFoundError(path)
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr("builtins.open", fake_open)
    assert supervisor._sysv_objects(1000)
    assert not supervisor._sysv_objects(1001)


def test_the_local_backend_leaves_the_hosts_tmp_alone(tmp_path, monkeypatch):
    keep = tmp_path / "someone-elses"
    keep.write_text("x")
    monkeypatch.setattr(supervisor, "SHARED_SCRATCH", (str(tmp_path),))
    assert supervisor._clear_scratch(None)  # no uid of the student's own: nothing is looked at
    assert keep.exists()
