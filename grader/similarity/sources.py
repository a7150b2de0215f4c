"""The text compared of a submission, the skeleton and the reference: Python files and the
code cells of notebooks, read as intake reads a submission, capped.

Student files are hostile: archives go through intake's checks (zip bombs, `..` paths,
symlinks), binary files and files that are not Python are left out with the reason, a file
over `MAX_FILE` is cut to its first `MAX_FILE` characters, and at most `MAX_FILES` files and
`MAX_TEXT` characters of a submission are compared (the rest named as left out).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from grader.errors import SubmissionError
from grader.intake import MB, _binary, read_submission, show

MAX_FILE = 200_000  # characters of one file compared
MAX_TEXT = 1_000_000  # characters of one submission compared
MAX_FILES = 100  # files of one submission compared
MAX_READ = 20 * MB  # bytes read of one submission (intake's own default)
CODE = (".py", ".ipynb")


@dataclass
class Source:
    """What is compared of one submission: its files' text by name, and what was left out."""

    files: dict[str, str] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)

    def to_json(self) -> dict:
        return {"files": self.files, "skipped": self.skipped}


def _notebook_code(data: bytes, name: str) -> str:
    from grader.notebook import notebook_module

    return notebook_module(data, show(name), lambda where, source: None).decode("utf-8")


def _text(name: str, data: bytes) -> str:
    """A file's text (SubmissionError when it is not compared)."""
    if name.lower().endswith(".ipynb"):
        return _notebook_code(data, name)
    if _binary(data):
        raise SubmissionError(f"{show(name)}: binary data, not compared")
    return data.decode("utf-8", errors="replace").replace("\0", "")


def source_of(files: dict[str, bytes], required: Sequence[str] = ()) -> Source:
    """The compared text of `files` (name -> bytes), within the caps: the exercise's
    `required` files first, then the others by name."""
    out = Source()
    total = 0
    for name in sorted(files, key=lambda n: (n not in required, n)):
        if not name.lower().endswith(CODE):
            out.skipped.append(f"{show(name)}: not a Python file or notebook")
            continue
        if len(out.files) == MAX_FILES or total >= MAX_TEXT:
            out.skipped.append(
                f"{show(name)}: over the limit of {MAX_FILES} files or "
                f"{MAX_TEXT:,} characters compared per submission"
            )
            continue
        try:
            text = _text(name, files[name])
        except SubmissionError as exc:
            out.skipped.append(str(exc).split("\n")[0])
            continue
        cap = min(MAX_FILE, MAX_TEXT - total)
        if len(text) > cap:
            out.skipped.append(
                f"{show(name)}: only its first {cap:,} of {len(text):,} characters compared"
            )
            text = text[:cap]
        out.files[name] = text
        total += len(text)
    return out


def read_source(path: Path, required: Sequence[str]) -> Source:
    """The compared text of the submission at `path` (a folder, .py, .ipynb or .zip); one that
    cannot be read at all is an empty source saying why."""
    try:
        return source_of(
            read_submission(path, required, max_bytes=MAX_READ, max_files=10 * MAX_FILES), required
        )
    except (SubmissionError, OSError) as exc:
        return Source(skipped=[f"not read: {str(exc).splitlines()[0]}"])


def expected_overlap(folders: Sequence[Path], leave_out: Sequence[str] = ("mutants",)) -> Source:
    """The code every submission may share: the skeleton's and the reference's Python files
    (an instructor's own folders: read without intake's checks; `leave_out` folders skipped)."""
    files: dict[str, bytes] = {}
    for folder in folders:
        if not folder.is_dir():
            continue
        for path in sorted(folder.rglob("*")):
            rel = path.relative_to(folder)
            if path.is_file() and not set(rel.parts) & {*leave_out, "__pycache__"}:
                files[f"{folder.name}/{rel.as_posix()}"] = path.read_bytes()
    return source_of(files)
