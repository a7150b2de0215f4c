"""Reading files the student's code could have replaced, from a more privileged process."""

from __future__ import annotations

import os
import stat


def read_untrusted(path: str, limit: int) -> tuple[bytes, int] | None:
    """(first `limit` bytes, bytes left over) of a file the student's code could have replaced:
    no symlink is followed, a FIFO or device is never opened for reading, nothing blocks.
    None if it is not a regular file we can read."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            return None
        data = os.read(fd, limit) if limit else b""
        return data, max(0, info.st_size - len(data))
    except OSError:
        return None
    finally:
        os.close(fd)
