"""The messages that cross a process boundary between the host and the sandbox, and their framing.

Both sides import this module (it needs nothing but the standard library): the host's
backends write requests and read replies; the sandbox's supervisor server reads requests and
writes replies. A frame is `MAGIC`, a 4-byte big-endian length and that many bytes of UTF-8
JSON. A reader never trusts a length: a frame over its limit, a wrong magic or a short read is
a `FrameError`, and the connection is given up.
"""

from __future__ import annotations

import json
import socket
import struct

MAGIC = b"PGR1"
HEADER = struct.Struct(">4sI")
MAX_REQUEST = 64 * 2**20  # a request carries a probe's source and arguments
MAX_REPLY = 512 * 2**20  # a reply carries the student's values and output, capped before


class FrameError(ConnectionError):
    """The other side broke the framing, or went away in the middle of a frame."""


def encode(message: dict) -> bytes:
    body = json.dumps(message).encode()
    return HEADER.pack(MAGIC, len(body)) + body


def _read_exactly(read, n: int) -> bytes:
    chunks, left = [], n
    while left:
        chunk = read(min(left, 1 << 20))
        if not chunk:
            raise FrameError(f"the connection closed {n - left} bytes into a {n}-byte read")
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def decode_from(read, limit: int) -> bytes | None:
    """The body of the next frame from `read(n)` (None at a clean end of the stream)."""
    first = read(HEADER.size)
    if not first:
        return None
    head = first + _read_exactly(read, HEADER.size - len(first)) if len(first) < HEADER.size else first
    magic, size = HEADER.unpack(head)
    if magic != MAGIC:
        raise FrameError(f"not a frame (starts with {magic!r})")
    if size > limit:
        raise FrameError(f"a frame of {size} bytes is over the limit of {limit}")
    return _read_exactly(read, size)


def send(sock: socket.socket, message: dict) -> None:
    sock.sendall(encode(message))


def receive(sock: socket.socket, limit: int) -> bytes | None:
    """The next frame's body from a socket (None if the other side closed it cleanly)."""
    return decode_from(sock.recv, limit)
