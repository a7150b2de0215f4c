"""Saving an upload: allowed types, size limit, a server-chosen path.

Nothing the student sends names a file on the server: only the suffix of the uploaded
name is kept (if it is .py, .zip or .ipynb); the path is
`UPLOADS/<exercise>/<login>/<UTC time>-<sha256 prefix><suffix>`, written with O_EXCL.
Its contents are checked later by `grader.intake` when graded.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import re
from pathlib import Path
from typing import IO

from grader.errors import GraderError

ALLOWED = (".py", ".zip", ".ipynb")
SAFE_PART = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,199}")


class UploadRefused(GraderError):
    """An upload not accepted; the message is for the student, `code` the HTTP status."""

    def __init__(self, message: str, code: int = 400):
        super().__init__(message)
        self.code = code


def size_text(n: int) -> str:
    return f"{n / 1024 / 1024:g} MB" if n >= 1024 * 1024 else f"{n / 1024:g} KB"


def save_upload(
    root: Path, exercise: str, login: str, filename: str, stream: IO[bytes], max_bytes: int
) -> Path:
    suffix = os.path.splitext(filename or "")[1].lower()
    if not filename:
        raise UploadRefused("Choose a file to hand in first.")
    if suffix not in ALLOWED:
        raise UploadRefused(
            "Hand in a .py file, a .zip archive or a Jupyter notebook (.ipynb); "
            "this file's type is not accepted."
        )
    data = stream.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise UploadRefused(
            f"This file is larger than the limit of {size_text(max_bytes)}. "
            "Hand in only your source files (clear notebook outputs, leave out "
            "data and virtual environments)."
        )
    if not data:
        raise UploadRefused("This file is empty.")
    for part in (exercise, login):  # both checked upstream; a path part must stay one part
        if not SAFE_PART.fullmatch(part):
            raise ValueError(f"unsafe path part {part!r}")
    folder = root / exercise / login
    folder.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S%fZ")
    path = folder / f"{stamp}-{hashlib.sha256(data).hexdigest()[:12]}{suffix}"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o640)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    return path
