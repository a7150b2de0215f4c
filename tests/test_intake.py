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
    return {p.relative_to(folder).as_posix(): p.read_bytes()
            for p in folder.rglob("*") if p.is_file()}


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
    src = make_zip(tmp_path / "sub.zip", {"project/": b"", "project/solution.py": GOOD,
                                           "project/lib/util.py": b"Y = 2\n"})
    dest = prepare_submission(src, REQ, tmp_path / "out")
    assert tree(dest) == {"solution.py": GOOD, "lib/util.py": b"Y = 2\n"}


def test_junk_is_ignored_in_zip_and_directory(tmp_path):
    junk = {"__MACOSX/project/._solution.py": b"\x00\x05junk", "project/.DS_Store": b"\x00",
            "project/__pycache__/solution.cpython-311.pyc": b"\x00", "project/old.pyc": b"\x00",
            "project/.git/HEAD": b"ref: x", "project/solution.py": GOOD}
    dest = prepare_submission(make_zip(tmp_path / "s.zip", junk), REQ, tmp_path / "out")
    assert tree(dest) == {"solution.py": GOOD}

    src = tmp_path / "dir"
    for name, data in junk.items():
        (src / name).parent.mkdir(parents=True, exist_ok=True)
        (src / name).write_bytes(data)
    dest = prepare_submission(src / "project", REQ, tmp_path / "out2")
    assert tree(dest) == {"solution.py": GOOD}


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
    (tmp_path / "work.ipynb").write_text("{}")
    assert "hand in a .py file, a .zip or a folder" in refused(tmp_path, tmp_path / "work.ipynb")


def test_empty_directory(tmp_path):
    (tmp_path / "empty" / "__pycache__").mkdir(parents=True)
    assert "The submission is empty: the folder contains no files" in refused(tmp_path, tmp_path / "empty")


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
    central = raw.rfind(b"PK\x01\x02")                  # last central entry: data.bin
    struct.pack_into("<I", raw, central + 24, 10)       # declare 10 bytes uncompressed
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
