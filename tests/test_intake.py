"""Intake: every bad submission is refused with a message a student understands."""

from __future__ import annotations

import os
import stat
import struct
import zipfile
from pathlib import Path

import pytest

from grader.errors import SubmissionError
from grader.intake import content_hash, prepare_submission
from nbgrader_notebook import ROOT, source_notebook, write_notebook

GOOD = b"def parallel_count(n):\n    return n\n"
REQ = ("solution.py",)


def make_zip(path: Path, members: dict, compression=zipfile.ZIP_DEFLATED) -> Path:
    """Zip with `members`: name -> bytes, or name -> ZipInfo-attrs dict with 'data'."""
    with zipfile.ZipFile(path, "w", compression) as zf:
        for name, data in members.items():
            info = zipfile.ZipInfo(name)
            info.compress_type = compression
            if isinstance(data, dict):
                info.external_attr = data["external_attr"]
                data = data["data"]
            else:
                info.external_attr = 0o100644 << 16
            zf.writestr(info, data)
    return path


def refused(tmp_path: Path, src: Path, required=REQ, **limits) -> str:
    dest = tmp_path / "out"
    with pytest.raises(SubmissionError) as exc:
        prepare_submission(src, required, dest, **limits)
    assert not dest.exists()
    return str(exc.value)


def tree(folder: Path) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*") if p.is_file()
    }


# --- good submissions ----------------------------------------------------------------------


def test_directory_is_copied_with_clean_modes(tmp_path):
    src = tmp_path / "alice"
    (src / "helpers").mkdir(parents=True)
    (src / "solution.py").write_bytes(GOOD)
    (src / "helpers" / "util.py").write_bytes(b"X = 1\n")
    (src / "solution.py").chmod(0o755)
    dest = prepare_submission(src, REQ, tmp_path / "out")
    assert dest == tmp_path / "out"
    assert tree(dest) == {"solution.py": GOOD, "helpers/util.py": b"X = 1\n"}
    assert stat.S_IMODE((dest / "solution.py").stat().st_mode) == 0o644
    assert stat.S_IMODE((dest / "helpers").stat().st_mode) == 0o755
    assert stat.S_IMODE(dest.stat().st_mode) == 0o755


def test_single_py_file_is_renamed_to_the_required_name(tmp_path):
    src = tmp_path / "alice_solution.py"
    src.write_bytes(GOOD)
    dest = prepare_submission(src, REQ, tmp_path / "out")
    assert tree(dest) == {"solution.py": GOOD}


def test_zip_with_a_single_top_folder_is_descended_into(tmp_path):
    src = make_zip(
        tmp_path / "sub.zip",
        {"project/": b"", "project/solution.py": GOOD, "project/lib/util.py": b"Y = 2\n"},
    )
    dest = prepare_submission(src, REQ, tmp_path / "out")
    assert tree(dest) == {"solution.py": GOOD, "lib/util.py": b"Y = 2\n"}


def test_junk_is_ignored_in_zip_and_directory(tmp_path):
    junk = {
        "__MACOSX/project/._solution.py": b"\x00\x05junk",
        "project/.DS_Store": b"\x00",
        "project/__pycache__/solution.cpython-311.pyc": b"\x00",
        "project/old.pyc": b"\x00",
        "project/.git/HEAD": b"ref: x",
        "project/solution.py": GOOD,
    }
    dest = prepare_submission(make_zip(tmp_path / "s.zip", junk), REQ, tmp_path / "out")
    assert tree(dest) == {"solution.py": GOOD}

    src = tmp_path / "dir"
    for name, data in junk.items():
        (src / name).parent.mkdir(parents=True, exist_ok=True)
        (src / name).write_bytes(data)
    dest = prepare_submission(src / "project", REQ, tmp_path / "out2")
    assert tree(dest) == {"solution.py": GOOD}


def test_a_virtual_environment_in_the_folder_is_not_the_students_code(tmp_path):
    src = tmp_path / "project"
    (src / "env" / "bin").mkdir(parents=True)
    (src / "env" / "pyvenv.cfg").write_text("home = /usr/bin\n")
    (src / "env" / "bin" / "python").symlink_to("/usr/bin/python3")
    (src / "env" / "big.bin").write_bytes(b"\0" * 100)
    (src / "solution.py").write_bytes(GOOD)
    assert tree(prepare_submission(src, REQ, tmp_path / "out")) == {"solution.py": GOOD}


def test_odd_file_names_are_kept_as_data(tmp_path):
    odd = "notes <b>\x07&'\".txt"
    src = make_zip(tmp_path / "s.zip", {"solution.py": GOOD, odd: b"hi"})
    dest = prepare_submission(src, REQ, tmp_path / "out")
    assert tree(dest) == {"solution.py": GOOD, odd: b"hi"}


def test_content_hash_covers_paths_and_contents(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    for folder in (a, b):
        (folder / "pkg").mkdir(parents=True)
        (folder / "solution.py").write_bytes(GOOD)
        (folder / "pkg" / "m.py").write_bytes(b"1")
    assert content_hash(a) == content_hash(b)
    (b / "pkg" / "m.py").write_bytes(b"2")
    assert content_hash(a) != content_hash(b)
    (b / "pkg" / "m.py").rename(b / "pkg" / "n.py")
    (b / "pkg" / "n.py").write_bytes(b"1")
    assert content_hash(a) != content_hash(b)


def test_existing_destination_is_a_caller_error(tmp_path):
    src = tmp_path / "solution.py"
    src.write_bytes(GOOD)
    (tmp_path / "out").mkdir()
    with pytest.raises(FileExistsError):
        prepare_submission(src, REQ, tmp_path / "out")
    assert (tmp_path / "out").is_dir()


# --- refused submissions -------------------------------------------------------------------


def test_missing_source(tmp_path):
    msg = refused(tmp_path, tmp_path / "nothing.zip")
    assert "Nothing was handed in" in msg and "nothing.zip" in msg


def test_unsupported_file_type(tmp_path):
    (tmp_path / "work.docx").write_text("{}")
    assert "hand in a .py file, a .ipynb notebook, a .zip or a folder" in refused(
        tmp_path, tmp_path / "work.docx"
    )


def test_empty_directory(tmp_path):
    (tmp_path / "empty" / "__pycache__").mkdir(parents=True)
    assert "The submission is empty: the folder contains no files" in refused(
        tmp_path, tmp_path / "empty"
    )


def test_empty_zip(tmp_path):
    src = make_zip(tmp_path / "s.zip", {"project/": b"", "__MACOSX/.DS_Store": b"x"})
    assert "The submission is empty: the archive contains no files" in refused(tmp_path, src)


def test_missing_required_file_suggests_a_similar_name(tmp_path):
    src = make_zip(tmp_path / "s.zip", {"Solution.py": GOOD, "README.md": b"hi"})
    msg = refused(tmp_path, src)
    assert "Missing required file solution.py: found Solution.py — did you mean solution.py?" in msg


def test_missing_required_file_lists_what_was_found(tmp_path):
    src = tmp_path / "dir"
    src.mkdir()
    (src / "main.py").write_bytes(GOOD)
    msg = refused(tmp_path, src, required=("solution.py", "worker.py"))
    assert "Missing required file solution.py (the submission contains: main.py)" in msg
    assert "Missing required file worker.py" in msg


def test_not_a_zip(tmp_path):
    src = tmp_path / "s.zip"
    src.write_bytes(b"this is a Word document, honest")
    assert "s.zip is not a valid zip archive" in refused(tmp_path, src)


def test_zip_slip_member_is_refused(tmp_path):
    src = make_zip(tmp_path / "s.zip", {"solution.py": GOOD, "../evil.py": b"x = 1\n"})
    msg = refused(tmp_path, src)
    assert "member '../evil.py' points outside the submission folder" in msg
    assert not (tmp_path / "evil.py").exists()


def test_absolute_member_is_refused(tmp_path):
    src = make_zip(tmp_path / "s.zip", {"solution.py": GOOD, "/etc/x": b"x"})
    assert "member '/etc/x' points outside the submission folder" in refused(tmp_path, src)


def test_zip_bomb_is_refused_before_extraction(tmp_path):
    src = make_zip(tmp_path / "s.zip", {"solution.py": GOOD, "data.bin": b"\0" * (50 * 2**20)})
    assert src.stat().st_size < 1024 * 1024
    msg = refused(tmp_path, src)
    assert "data.bin is compressed more than 100:1 (50 MB" in msg and "zip bomb" in msg


def test_zip_over_the_size_limit_is_refused(tmp_path):
    src = make_zip(tmp_path / "s.zip", {"solution.py": GOOD, "data.bin": os.urandom(300_000)})
    msg = refused(tmp_path, src, max_bytes=200_000)
    assert "larger than 200000 bytes once unpacked" in msg


def test_zip_whose_headers_lie_about_sizes_is_refused(tmp_path):
    data = os.urandom(300_000)
    src = make_zip(tmp_path / "s.zip", {"solution.py": GOOD, "data.bin": data}, zipfile.ZIP_STORED)
    raw = bytearray(src.read_bytes())
    central = raw.rfind(b"PK\x01\x02")  # last central entry: data.bin
    struct.pack_into("<I", raw, central + 24, 10)  # declare 10 bytes uncompressed
    src.write_bytes(bytes(raw))
    assert "not a valid zip archive" in refused(tmp_path, src, max_bytes=200_000)


def test_too_many_files_is_refused(tmp_path):
    members = {"solution.py": GOOD, **{f"data/{i}.txt": b"x" for i in range(20)}}
    msg = refused(tmp_path, make_zip(tmp_path / "s.zip", members), max_files=10)
    assert "more than 10 files" in msg


def test_directory_over_the_size_limit_is_refused(tmp_path):
    src = tmp_path / "dir"
    src.mkdir()
    (src / "solution.py").write_bytes(GOOD)
    (src / "data.csv").write_bytes(b"1,2\n" * 100_000)
    assert "larger than 200000 bytes once unpacked" in refused(tmp_path, src, max_bytes=200_000)


def test_symlink_member_is_refused(tmp_path):
    link = {"external_attr": 0o120777 << 16, "data": b"/etc/passwd"}
    src = make_zip(tmp_path / "s.zip", {"solution.py": GOOD, "passwd.txt": link})
    assert "member passwd.txt is a symbolic link" in refused(tmp_path, src)


@pytest.mark.parametrize("target", ["/etc/passwd", "solution.py"])
def test_symlink_in_directory_is_refused(tmp_path, target):
    src = tmp_path / "dir"
    (src / "sub").mkdir(parents=True)
    (src / "solution.py").write_bytes(GOOD)
    (src / "sub" / "link.py").symlink_to(target)
    assert "sub/link.py is a symbolic link" in refused(tmp_path, src)


def test_fifo_in_directory_is_refused(tmp_path):
    src = tmp_path / "dir"
    src.mkdir()
    (src / "solution.py").write_bytes(GOOD)
    os.mkfifo(src / "pipe")
    assert "pipe is not a regular file" in refused(tmp_path, src)


def test_non_utf8_source_is_refused(tmp_path):
    src = tmp_path / "solution.py"
    src.write_bytes("# Auteur : Hélène\nx = 1\n".encode("latin-1"))
    msg = refused(tmp_path, src)
    assert "solution.py is not valid UTF-8: byte 0xe9 at offset 12 (line 1)" in msg
    assert "Save the file as UTF-8" in msg


def test_syntax_error_names_file_line_and_text(tmp_path):
    src = tmp_path / "alice.py"
    src.write_bytes(b"import os\n\nfor i in range(3)\n    print(i)\n")
    msg = refused(tmp_path, src)
    assert msg.startswith("solution.py, line 3: ")
    assert "for i in range(3)" in msg


def test_odd_names_in_messages_use_repr(tmp_path):
    name = "<script>x</script>\n.py"
    src = make_zip(tmp_path / "s.zip", {"solution.py": GOOD, name: b"def (:\n"})
    msg = refused(tmp_path, src)
    assert msg.startswith(repr(name) + ", line 1: ")


def test_null_byte_in_source_is_refused(tmp_path):
    src = tmp_path / "solution.py"
    src.write_bytes(b"x = 1\x00\n")
    assert "solution.py contains a null byte at offset 5" in refused(tmp_path, src)


def test_binary_file_renamed_py_is_not_a_text_file(tmp_path):
    """A zip, an image or a .pyc renamed .py is told for what it is, not as an encoding slip."""
    import py_compile

    compiled = py_compile.compile(str(_write_py(tmp_path)), cfile=str(tmp_path / "g.pyc"))
    for data in (
        make_zip(tmp_path / "s.zip", {"solution.py": GOOD}).read_bytes(),
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 4,
        Path(compiled).read_bytes(),
    ):
        src = tmp_path / "solution.py"
        src.write_bytes(data)
        msg = refused(tmp_path, src)
        assert msg.startswith("solution.py is not a text file: it holds binary data"), msg
        assert "UTF-8" not in msg and "Hand in the Python source file" in msg


def _write_py(tmp_path):
    path = tmp_path / "g.py"
    path.write_bytes(GOOD)
    return path


# --- notebooks ---------------------------------------------------------------------------


def load_module(path: Path) -> dict:
    namespace: dict = {"__name__": "submitted"}
    exec(compile(path.read_text(), str(path), "exec"), namespace)  # test data we wrote ourselves
    return namespace


def test_nbgrader_notebook_becomes_the_required_module(tmp_path):
    src = write_notebook(source_notebook(), tmp_path / "Locked Counter.ipynb")
    dest = prepare_submission(src, REQ, tmp_path / "out")
    assert sorted(tree(dest)) == ["solution.py"]
    code = (dest / "solution.py").read_text()
    assert "instructor only" not in code and "# cell 4: nbgrader test cell, left out" in code
    assert "pass  # pgrader: IPython-only line left out: '%matplotlib inline'" in code
    assert "left out: '%timeit parallel_count(4, 1000)'" in code and "'parallel_count?'" in code
    assert "Write `SafeCounter`" not in code  # markdown is not code
    module = load_module(dest / "solution.py")
    assert module["parallel_count"](4, 250) == 1000


def test_released_notebook_keeps_nbgraders_stub(tmp_path):
    """nbgrader's own ClearSolutions makes the student version: it is accepted, and is a stub."""
    from nbgrader.preprocessors import ClearSolutions

    released, _ = ClearSolutions().preprocess(source_notebook(), {})
    dest = prepare_submission(write_notebook(released, tmp_path / "lc.ipynb"), REQ, tmp_path / "o")
    code = (dest / "solution.py").read_text()
    assert "# YOUR CODE HERE\nraise NotImplementedError()" in code
    assert "class SafeCounter" not in code
    with pytest.raises(NotImplementedError):
        load_module(dest / "solution.py")


def test_notebook_is_taken_from_a_zip_only_when_the_module_is_missing(tmp_path):
    import nbformat

    data = nbformat.writes(source_notebook()).encode()
    dest = prepare_submission(
        make_zip(tmp_path / "a.zip", {"hw/work.ipynb": data, "hw/notes.txt": b"hi"}),
        REQ,
        tmp_path / "a",
    )
    assert sorted(tree(dest)) == ["notes.txt", "solution.py"]
    dest = prepare_submission(
        make_zip(tmp_path / "b.zip", {"solution.py": GOOD, "scratch.ipynb": data}),
        REQ,
        tmp_path / "b",
    )
    assert tree(dest) == {"solution.py": GOOD, "scratch.ipynb": data}


@pytest.mark.parametrize(
    "text, expected",
    [
        ('{"cells": [', "is not a valid Jupyter notebook: it is not JSON"),
        ("[1, 2]", "is not a valid Jupyter notebook"),
        (
            '{"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": 7}',
            "is not a valid Jupyter notebook",
        ),
        ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
    ],
)
def test_broken_notebooks_are_refused(tmp_path, text, expected):
    (tmp_path / "hw.ipynb").write_text(text)
    msg = refused(tmp_path, tmp_path / "hw.ipynb")
    assert msg.startswith("hw.ipynb is ") and expected in msg


def test_notebook_without_code_is_refused(tmp_path):
    nb = source_notebook()
    nb.cells = [nb.cells[0], nb.cells[3]]  # statement and test cell
    msg = refused(tmp_path, write_notebook(nb, tmp_path / "hw.ipynb"))
    assert "hw.ipynb has no code to grade" in msg


def test_huge_notebook_is_refused_with_advice(tmp_path):
    import nbformat

    nb = source_notebook()
    nb.cells[2].outputs = [nbformat.v4.new_output("stream", name="stdout", text="x" * 300_000)]
    msg = refused(tmp_path, write_notebook(nb, tmp_path / "hw.ipynb"), max_bytes=200_000)
    assert "hw.ipynb is larger than 200000 bytes: clear its outputs" in msg


def test_too_much_code_is_refused(tmp_path):
    nb = source_notebook()
    nb.cells[4].source = "x = 1\n" * 200_000
    assert "holds more than 1024 KB of code" in refused(
        tmp_path, write_notebook(nb, tmp_path / "hw.ipynb")
    )


def test_syntax_error_names_the_cell(tmp_path):
    nb = source_notebook()
    nb.cells[2].source = "### BEGIN SOLUTION\ndef parallel_count(n:\n    pass\n### END SOLUTION\n"
    msg = refused(tmp_path, write_notebook(nb, tmp_path / "hw.ipynb"))
    assert msg.startswith("hw.ipynb, cell 3 (the one starting '### BEGIN SOLUTION'), line 2: ")
    assert "def parallel_count(n:" in msg


def test_unpaired_solution_markers_are_refused(tmp_path):
    nb = source_notebook()
    nb.cells[2].source = nb.cells[2].source.replace("### END SOLUTION", "")
    msg = refused(tmp_path, write_notebook(nb, tmp_path / "hw.ipynb"))
    assert "cell 3" in msg and "### BEGIN SOLUTION is never closed" in msg


@pytest.mark.slow
def test_grader_grade_accepts_a_notebook(tmp_path):
    """`grader grade` of the reference as a notebook, on the local backend: full marks."""
    import json
    import subprocess

    src = write_notebook(source_notebook(), tmp_path / "alice.ipynb")
    proc = subprocess.run(
        [
            str(ROOT / ".venv" / "bin" / "grader"),
            "grade",
            "locked_counter",
            str(src),
            "--json",
            "--backend",
            "local",
            "--out",
            str(tmp_path / "g"),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["score"] == result["max_score"] == 10, result
    assert all(t["verdict"] == "passed" for t in result["tests"])


def test_grade_all_finds_notebooks(tmp_path):
    from grader.entries import discover

    for name in ("alice.ipynb", "bob.py", "carol.zip", "notes.txt"):
        (tmp_path / name).write_text("")
    assert sorted(discover(tmp_path)) == ["alice", "bob", "carol"]


def test_magics_inside_blocks_keep_the_cell_valid(tmp_path):
    nb = source_notebook()
    nb.cells[4].source = "for n in (1, 2):\n    !echo {n}\nrate = 10 % 3  # not a magic\n"
    dest = prepare_submission(write_notebook(nb, tmp_path / "hw.ipynb"), REQ, tmp_path / "out")
    code = (dest / "solution.py").read_text()
    assert "    pass  # pgrader: IPython-only line left out: '!echo {n}'" in code
    assert "rate = 10 % 3  # not a magic" in code
    assert load_module(dest / "solution.py")["rate"] == 1


@pytest.mark.parametrize("where", ["file", "folder"])
def test_a_name_that_is_not_utf8_is_refused_with_a_message(tmp_path, where):
    """A name of bytes that are not UTF-8 comes back from the file system with lone surrogates,
    which no results.json, page or gradebook can encode: it was a UnicodeEncodeError and the
    submission "not graded yet (retryable)" at will (the red team, session 6); it is refused."""
    src = tmp_path / "dir"
    src.mkdir()
    (src / "solution.py").write_bytes(GOOD)
    if where == "file":
        Path(os.fsdecode(os.path.join(os.fsencode(src), b"\xff\xfe.py"))).write_text("x = 1\n")
    else:
        folder = Path(os.fsdecode(os.path.join(os.fsencode(src), b"d\xff")))
        folder.mkdir()
        (folder / "helper.py").write_text("x = 1\n")
    message = refused(tmp_path, src)
    assert "is not UTF-8 text" in message and "rename it" in message
    message.encode("utf-8")  # the message itself can be shown
