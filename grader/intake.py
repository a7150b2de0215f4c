"""Intake: turn what a student handed in (folder, `.py`, `.ipynb`, `.zip`) into a clean folder.

Everything is read into memory under a byte and file budget and checked before anything is
written (a folder's virtual environments, recognised by their `pyvenv.cfg`, are left out): unsafe archives (absolute or `..` paths, symlinks, special files, bombs), missing
required files, non-UTF-8 sources and syntax errors raise `SubmissionError` with a message
for the student. A notebook (alone, or the only one in a folder or zip that lacks the required
module) becomes the first required module (`grader/notebook.py`). Only regular files reach
`dest` (mode 0o644, folders 0o755).
"""

from __future__ import annotations

import difflib
import hashlib
import importlib.machinery
import lzma
import os
import re
import shutil
import stat
import warnings
import zipfile
import zlib
from collections.abc import Sequence
from pathlib import Path
from typing import IO, BinaryIO

from grader.errors import SubmissionError

MB = 1024 * 1024
MAX_RATIO = 100  # uncompressed/compressed, for members over 1 MB
MAX_DEPTH = 16  # folders a file may be nested in
MAX_PATH = 1000  # bytes of a file's path inside the submission
JUNK_DIRS = {"__pycache__", "__MACOSX", ".git"}
_PLAIN_NAME = re.compile(r"\w[\w.\- /]*", re.ASCII)
_BAD_ZIP = (
    zipfile.BadZipFile,
    zipfile.LargeZipFile,
    zlib.error,
    lzma.LZMAError,
    EOFError,
    OSError,
    ValueError,
    NotImplementedError,
)


def show(name: str) -> str:
    """A file name as a message shows it: plain names as they are, odd ones as repr()."""
    return name if _PLAIN_NAME.fullmatch(name) else repr(name)


def _size(n: int) -> str:
    return f"{n / MB:.3g} MB" if n >= MB else f"{n} bytes"


def _is_junk(parts: Sequence[str]) -> bool:
    name = parts[-1]
    return any(p in JUNK_DIRS for p in parts) or name == ".DS_Store" or name.endswith(".pyc")


class _Budget:
    """Counts files and bytes actually read; refuses once a limit is passed."""

    def __init__(self, max_bytes: int, max_files: int):
        self.max_bytes, self.max_files, self.bytes, self.files = max_bytes, max_files, 0, 0

    def too_big(self) -> SubmissionError:
        return SubmissionError(
            f"The submission is larger than {_size(self.max_bytes)} once "
            "unpacked. Hand in only your source files (no data, virtual "
            "environments or build outputs)."
        )

    def count_file(self) -> None:
        self.files += 1
        if self.files > self.max_files:
            raise SubmissionError(
                f"The submission has more than {self.max_files} files. "
                "Hand in only your source files."
            )

    def read(self, f: IO[bytes]) -> bytes:
        """Read `f` in chunks, counting every byte against the budget (headers are not trusted)."""
        chunks = []
        while chunk := f.read(64 * 1024):
            self.bytes += len(chunk)
            if self.bytes > self.max_bytes:
                raise self.too_big()
            chunks.append(chunk)
        return b"".join(chunks)


def _too_deep(name: str) -> SubmissionError:
    return SubmissionError(
        f"{show(name[:80] + '...')} is nested too deep or named too long "
        f"(at most {MAX_DEPTH} folders and {MAX_PATH} bytes): hand in a "
        "flatter folder."
    )


def _utf8(name: str) -> bool:
    """Whether a name read from the file system is text: bytes that are not UTF-8 come back as
    lone surrogates (surrogateescape), which nothing after intake can encode."""
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _read_dir(root: Path, budget: _Budget) -> dict[str, bytes]:
    """All regular files under `root`, by relative path; refuses symlinks and special files, and
    folders nested deeper than MAX_DEPTH (walked with a list, not by recursion: any depth is
    refused with a message, never a crash)."""
    files: dict[str, bytes] = {}
    todo = [(os.fspath(root), "")]
    while todo:
        folder, prefix = todo.pop()
        if prefix.count("/") > MAX_DEPTH or len(prefix.encode()) > MAX_PATH:
            raise _too_deep(prefix)
        with os.scandir(folder) as it:
            entries = sorted(it, key=lambda e: e.name)
        for entry in entries:
            rel = prefix + entry.name
            if _is_junk([entry.name]):
                continue
            if not _utf8(entry.name):
                raise SubmissionError(
                    f"{show(rel)} has a name that is not UTF-8 text (bytes that no page or "
                    "gradebook can show as they are): rename it with letters, digits, '-', '_' "
                    "and '.' and hand it in again."
                )
            if entry.is_symlink():
                raise SubmissionError(f"{show(rel)} is a symbolic link; hand in the file itself.")
            if entry.is_dir(follow_symlinks=False):
                if os.path.isfile(os.path.join(entry.path, "pyvenv.cfg")):
                    continue  # a virtual environment, not the student's code
                todo.append((entry.path, rel + "/"))
            elif entry.is_file(follow_symlinks=False):
                budget.count_file()
                if budget.bytes + entry.stat(follow_symlinks=False).st_size > budget.max_bytes:
                    raise budget.too_big()
                with open(entry.path, "rb") as f:
                    files[rel] = budget.read(f)
            else:
                raise SubmissionError(
                    f"{show(rel)} is not a regular file (a FIFO, socket or device)."
                )
    return files


def _member_parts(name: str) -> list[str]:
    """The path components of a zip member; refuses absolute paths and `..` (zip slip)."""
    clean = name.replace("\\", "/")
    parts = [p for p in clean.split("/") if p not in ("", ".")]
    if clean.startswith("/") or re.match(r"[A-Za-z]:", clean) or ".." in parts:
        raise SubmissionError(
            f"The archive was refused: member {show(name)} points outside the "
            "submission folder (absolute path or '..'). Create the zip from "
            "inside your project folder."
        )
    return parts


def _read_zip(path: Path, budget: _Budget) -> dict[str, bytes]:
    """All regular members of the zip at `path`, checked entirely before any is extracted."""
    try:
        with zipfile.ZipFile(path) as zf:
            plan, declared = {}, 0
            for info in zf.infolist():
                parts = _member_parts(info.filename)
                kind = stat.S_IFMT(info.external_attr >> 16)
                if kind == stat.S_IFLNK:
                    raise SubmissionError(
                        f"The archive was refused: member {show(info.filename)} "
                        "is a symbolic link. Zip the files themselves."
                    )
                if kind not in (0, stat.S_IFREG, stat.S_IFDIR):
                    raise SubmissionError(
                        f"The archive was refused: member {show(info.filename)} "
                        "is not a regular file."
                    )
                if (
                    not parts
                    or kind == stat.S_IFDIR
                    or info.filename[-1] in "/\\"
                    or _is_junk(parts)
                ):
                    continue
                key = "/".join(parts)
                if info.flag_bits & 0x1:
                    raise SubmissionError(f"{show(key)} is encrypted. Zip it without a password.")
                if key in plan:
                    raise SubmissionError(f"{show(key)} appears twice in the archive.")
                if info.file_size > MB and info.file_size > MAX_RATIO * info.compress_size:
                    raise SubmissionError(
                        f"The archive was refused: {show(key)} is compressed more "
                        f"than {MAX_RATIO}:1 ({_size(info.file_size)} from "
                        f"{_size(info.compress_size)}); it looks like a zip bomb."
                    )
                budget.count_file()
                declared += info.file_size
                plan[key] = info
            if declared > budget.max_bytes:
                raise budget.too_big()
            files = {}
            for key, info in plan.items():
                with zf.open(info) as f:
                    files[key] = budget.read(f)
            return files
    except _BAD_ZIP as exc:
        raise SubmissionError(
            f"{show(path.name)} is not a valid zip archive ({exc}). Create it "
            "again with your system's zip tool."
        ) from exc


def _read_notebook(name: str, f: BinaryIO, budget: _Budget) -> bytes:
    try:
        return budget.read(f)
    except SubmissionError:
        raise SubmissionError(
            f"{show(name)} is larger than {_size(budget.max_bytes)}: clear its "
            "outputs in Jupyter (Edit > Clear Outputs of All Cells), save it "
            "and hand it in again."
        ) from None


def _notebook_to_module(files: dict[str, bytes], required: Sequence[str]) -> dict[str, bytes]:
    """A lone top-level notebook stands for the first required module when that is missing."""
    notebooks = [n for n in files if "/" not in n and n.lower().endswith(".ipynb")]
    if len(notebooks) != 1 or not required or required[0] in files:
        return files
    from grader.notebook import notebook_module  # lazy: nbformat, only for a notebook

    name = notebooks[0]
    rest = {n: d for n, d in files.items() if n != name}
    rest[required[0]] = notebook_module(
        files[name], show(name), lambda where, data: _check_source(name, data, where)
    )
    return rest


def _collect(src: Path, required: Sequence[str], budget: _Budget) -> dict[str, bytes]:
    if not src.exists():
        raise SubmissionError(f"Nothing was handed in: {show(src.name)} does not exist.")
    if src.is_dir():
        files, what = _read_dir(src, budget), "folder"
    elif not src.is_file():
        raise SubmissionError(f"{show(src.name)} is not a regular file.")
    elif src.suffix.lower() == ".py":
        budget.count_file()
        with open(src, "rb") as f:
            return {required[0] if required else src.name: budget.read(f)}
    elif src.suffix.lower() == ".ipynb":
        budget.count_file()
        with open(src, "rb") as f:
            return {src.name: _read_notebook(src.name, f, budget)}
    elif src.suffix.lower() == ".zip":
        files, what = _read_zip(src, budget), "archive"
    else:
        raise SubmissionError(
            f"{show(src.name)} cannot be graded: hand in a .py file, a .ipynb "
            "notebook, a .zip or a folder."
        )
    if not files:
        raise SubmissionError(
            f"The submission is empty: the {what} contains no files "
            "(__pycache__, .git, __MACOSX, .DS_Store and *.pyc are ignored)."
        )
    return files


def _descend(files: dict[str, bytes], required: Sequence[str]) -> dict[str, bytes]:
    """Strip a single top-level folder (e.g. `project/solution.py`) while required files are missing."""
    while not all(r in files for r in required):
        tops = {name.split("/", 1)[0] for name in files}
        if len(tops) != 1 or any("/" not in name for name in files):
            break
        files = {name.split("/", 1)[1]: data for name, data in files.items()}
    return files


# Native code: machine-code file headers (ELF, Mach-O, PE) and the suffixes Python loads
# extension modules or bytecode from. Exercises are Python; native code would run outside
# everything that watches the student's code.
NATIVE_MAGIC = (b"\x7fELF", b"\xfe\xed\xfa", b"\xce\xfa\xed\xfe", b"\xcf\xfa\xed\xfe", b"MZ")
NATIVE_SUFFIXES = (".so", ".pyd", ".dylib", ".dll", ".pyc", ".pyo", ".o", ".a")


def _check_not_native(name: str, data: bytes) -> None:
    lowered = name.lower()
    native = (
        data[:4].startswith(NATIVE_MAGIC)
        or lowered.endswith(NATIVE_SUFFIXES)
        or any(lowered.endswith(s) for s in importlib.machinery.EXTENSION_SUFFIXES)
    )
    if native:
        raise SubmissionError(
            f"{show(name)} is compiled (native) code: only Python source and "
            "text files are graded. Hand in the .py files instead."
        )


def _check_layout(files: dict[str, bytes], required: Sequence[str]) -> None:
    """Required files present, no name used as both file and folder, names the disk accepts,
    no native code."""
    for name, data in files.items():
        if name.count("/") >= MAX_DEPTH or len(name.encode()) > MAX_PATH:
            raise _too_deep(name)
        _check_not_native(name, data)
    problems = []
    for req in required:
        if req in files:
            continue
        close = difflib.get_close_matches(req, [n for n in files if n not in required], 1, 0.7)
        if close:
            problems.append(
                f"Missing required file {show(req)}: found {show(close[0])} — did you "
                f"mean {show(req)}? Name it exactly {show(req)}, at the top level."
            )
        else:
            listing = ", ".join([show(n) for n in sorted(files)[:10]] + ["..."] * (len(files) > 10))
            problems.append(
                f"Missing required file {show(req)} (the submission contains: {listing})."
            )
    if problems:
        raise SubmissionError("\n".join(problems))
    folders = {"/".join(n.split("/")[:i]) for n in files for i in range(1, n.count("/") + 1)}
    for name in sorted(files):
        if name in folders:
            raise SubmissionError(f"{show(name)} is both a file and a folder in the submission.")
        if any(len(os.fsencode(part)) > 255 for part in name.split("/")):
            raise SubmissionError(f"The file name {show(name)} is too long.")


def _check_source(name: str, data: bytes, label: str | None = None) -> None:
    """A `.py` file (or a notebook cell, called `label`) must be UTF-8 and compile (never run)."""
    shown = label or show(name)
    if _binary(data):
        raise SubmissionError(
            f"{shown} is not a text file: it holds binary data (such as a "
            "compiled, zipped or image file renamed to .py). Hand in the "
            "Python source file you wrote."
        )
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise SubmissionError(
            f"{shown} is not valid UTF-8: byte 0x{data[exc.start]:02x} at "
            f"offset {exc.start} (line {line}). Save the file as UTF-8 in your "
            "editor and hand it in again."
        ) from None
    if b"\0" in data:
        raise SubmissionError(
            f"{shown} contains a null byte at offset {data.find(0)}; "
            "is it really a Python source file?"
        )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            compile(data, name, "exec", dont_inherit=True)
    except SyntaxError as exc:
        where = f", line {exc.lineno}" if exc.lineno else ""
        message = f"{shown}{where}: {exc.msg}"
        text = (exc.text or "").rstrip("\r\n")
        if text.strip():
            indent = len(text) - len(text.lstrip())
            message += f"\n    {text.strip()}"
            if exc.offset and exc.offset - 1 >= indent:
                message += "\n    " + " " * (exc.offset - 1 - indent) + "^"
        raise SubmissionError(message) from None
    except (RecursionError, MemoryError):
        raise SubmissionError(f"{shown} is too deeply nested for Python to compile.") from None


def _binary(data: bytes) -> bool:
    """Binary data rather than text in some encoding: many control bytes near the start, or
    a NUL byte in what is not UTF-8 (as `git` and `file` judge)."""
    head = data[:8000]
    control = sum(b < 32 and b not in (9, 10, 12, 13) for b in head)
    if control >= 8 and control / len(head) > 0.1:
        return True
    if b"\0" in head:  # a stray NUL in UTF-8 text is told apart below
        try:
            data.decode("utf-8")
        except UnicodeDecodeError:
            return True
    return False


def _write(files: dict[str, bytes], dest: Path) -> None:
    dest.mkdir(parents=True)
    for name, data in sorted(files.items()):
        path = dest.joinpath(*name.split("/"))
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        path.chmod(0o644)
    for folder in [dest, *(p for p in dest.rglob("*") if p.is_dir())]:
        folder.chmod(0o755)


def read_submission(
    src: Path, required: Sequence[str], *, max_bytes: int = 20 * MB, max_files: int = 200
) -> dict[str, bytes]:
    """The files of the submission at `src` by relative path, read as intake reads them (same
    budget and archive checks; a single top folder stripped), but not checked as source:
    what `grader.similarity` compares. Raises `SubmissionError` when it cannot be read."""
    return _descend(_collect(Path(src), required, _Budget(max_bytes, max_files)), required)


def prepare_submission(
    src: Path,
    required: Sequence[str],
    dest: Path,
    *,
    max_bytes: int = 20 * MB,
    max_files: int = 200,
) -> Path:
    """Check the submission at `src` and copy its files into the new folder `dest`.

    Raises `SubmissionError` (with `dest` absent) when the submission cannot be graded.
    """
    src, dest = Path(src), Path(dest)
    if dest.exists() or dest.is_symlink():
        raise FileExistsError(f"intake destination already exists: {dest}")
    files = _descend(_collect(src, required, _Budget(max_bytes, max_files)), required)
    files = _notebook_to_module(files, required)
    _check_layout(files, required)
    for name, data in sorted(files.items()):
        if name.endswith(".py"):
            _check_source(name, data)
    try:
        _write(files, dest)
    except BaseException:
        shutil.rmtree(dest, ignore_errors=True)
        raise
    return dest


def content_hash(folder: Path, max_files: int = 100_000) -> str:
    """sha256 over the sorted relative paths and contents of the regular files under `folder`
    (walked with a list: a folder of any depth a student hands in is hashed, never a crash)."""
    found: list[tuple[bytes, str]] = []
    todo = [(os.fspath(folder), b"")]
    while todo and len(found) <= max_files:
        path, rel = todo.pop()
        with os.scandir(path) as it:
            for entry in it:
                name = rel + os.fsencode(entry.name)
                if entry.is_dir(follow_symlinks=False):
                    todo.append((entry.path, name + b"/"))
                elif entry.is_file(follow_symlinks=False):
                    found.append((name, entry.path))
    h = hashlib.sha256()
    for rel, path in sorted(found):
        with open(path, "rb") as f:
            data = f.read()
        h.update(len(rel).to_bytes(8, "big") + rel + len(data).to_bytes(8, "big") + data)
    return h.hexdigest()
