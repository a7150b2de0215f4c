"""The private line between the supervisor and its agents: a Unix socket, authenticated frames.

Nothing about a request is ever written where the student's code could read it (a file, an
argument, an environment variable): the supervisor listens on `RUNDIR/agent.sock`, each agent
process connects to it *before* the student's module is imported, and the supervisor answers
once every expected agent (one, or one per MPI rank) has connected -- so no student code runs
while requests are being handed out -- with the request and a fresh random key for that
connection. Connections from any process that is not one of the supervisor's own new
descendants, or a second one from the same process, are refused.

Agents report back on the same connection with frames

    type (1 byte) | length (4 bytes, big-endian) | HMAC-SHA256(key, type + length + payload) | payload

of two types: `C` (the student's function is being called: the timeout starts) and `R` (the
result, once). The student's code runs in the
agent's process and can write into the socket, but it cannot sign a frame without the key, which
lives only in the agent's memory (frames, the garbage collector and ctypes are closed to it, and
the process is not dumpable). So a forged, garbled or extra frame, or a second result, makes the
request the student's crash, never a result. The request itself is a typed
`grader.protocol.AgentRequest`; the line is the standard library's (it runs in the sandbox).
"""

from __future__ import annotations

import _hashlib
import _json
import hmac
import os
import socket
import struct
import threading
import time

from grader.protocol import MAX_REQUEST, AgentRequest

CALLED, RESULT, REQUEST = b"C", b"R", b"Q"


def _no_default(obj):
    raise TypeError(f"{type(obj).__name__} is not plain data")


HEADER = struct.Struct(">cI")
MAC_BYTES = 32
MAX_RESULT = 64 * 2**20  # a result larger than this is the student's fault
MAX_SMALL = 64 * 1024  # any other frame
KEY_BYTES = 32
SOCKET_NAME = "agent.sock"
ENV = "PGRADER_SOCKET"


class ChannelError(Exception):
    """What came over the line was not what an honest agent sends (the student's doing)."""


# Bound now, before any student code runs in the agent, and all C: the student's code could
# replace `hmac.new`, `json.dumps` or the JSON encoder's methods in their modules (shared by the
# whole process) to catch the key or to rewrite a result before it is signed.
_hmac_digest, _compare = _hashlib.hmac_digest, hmac.compare_digest
_c_encoder = _json.make_encoder(
    {}, _no_default, _json.encode_basestring_ascii, None, ": ", ", ", False, False, True
)


def _dumps(obj) -> bytes:
    """JSON of plain data (what the agent sends), by the C encoder alone."""
    return "".join(_c_encoder(obj, 0)).encode()


def _mac(key: bytes, kind: bytes, payload: bytes) -> bytes:
    return _hmac_digest(key, kind + len(payload).to_bytes(4, "big") + payload, "sha256")


class _Cut(EOFError):
    """The line ended in the middle of a frame."""


def _recv_exact(conn: socket.socket, n: int, first: bool = False) -> bytes:
    """`n` bytes; EOFError if the line ends before the first of them when `first` (a clean end
    between frames), `_Cut` if it ends anywhere else."""
    chunks, got = [], 0
    while got < n:
        chunk = conn.recv(min(n - got, 1 << 20))
        if not chunk:
            raise EOFError if first and not got else _Cut
        chunks.append(chunk)
        got += len(chunk)
    return b"".join(chunks)


# ---------------------------------------------------------------- agent side


class AgentLine:
    """An agent's end: the request it was given, and a way to send signed frames back. Slots
    only: no method of it can be shadowed on the object."""

    __slots__ = ("_conn", "_key", "request", "_lock", "_sendall", "_shutdown")

    def __init__(self, conn: socket.socket, key: bytes, request: AgentRequest):
        self._conn, self._key, self.request = conn, key, request
        self._lock = threading.Lock()  # created before the student's code can replace Lock
        self._sendall = conn.sendall  # bound now: socket.socket's methods can be replaced later
        self._shutdown = conn.shutdown
        fd = conn.fileno()
        ident = (os.fstat(fd).st_dev, os.fstat(fd).st_ino)
        os.register_at_fork(after_in_child=lambda: _forget(conn, fd, ident))

    def send(self, kind: bytes, payload: bytes) -> None:
        frame = HEADER.pack(kind, len(payload)) + _mac(self._key, kind, payload) + payload
        with self._lock:
            self._sendall(frame)

    def called(self) -> None:
        self.send(CALLED, b"")

    def result(self, result: dict) -> None:
        self.send(RESULT, _dumps(result))
        self._shutdown(socket.SHUT_WR)


def _forget(conn: socket.socket, fd: int, ident: tuple) -> None:
    """In a forked child: the line belongs to the parent agent alone (if `fd` is still it)."""
    try:
        info = os.fstat(fd)
        if (info.st_dev, info.st_ino) == ident:
            conn.detach()
            os.close(fd)
    except OSError:
        pass


def connect(path: str) -> AgentLine:
    """Connect to the supervisor and wait for this agent's request (every agent of the request
    has connected by the time it comes): the line's key, then the request (`AgentRequest.parse`:
    capped, strict). The socket is not inherited by exec'd programs."""
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    conn.connect(path)
    kind, length = HEADER.unpack(_recv_exact(conn, HEADER.size))
    if kind != REQUEST or not KEY_BYTES < length <= KEY_BYTES + MAX_REQUEST:
        raise ChannelError("the supervisor sent no request")
    payload = _recv_exact(conn, length)
    return AgentLine(conn, payload[:KEY_BYTES], AgentRequest.parse(payload[KEY_BYTES:]))


# ---------------------------------------------------------------- supervisor side


class Link:
    """One agent's connection as the supervisor sees it: frames read by a thread of its own."""

    def __init__(self, conn: socket.socket, pid: int):
        self.conn, self.pid = conn, pid
        self.key = os.urandom(KEY_BYTES)
        self.called = False
        self.called_at = self.result_at = 0.0  # on the supervisor's clock: the call's own wall time
        self.result: bytes | None = None
        self.problem = ""  # why the line cannot be believed (the student's doing)
        self.thread = threading.Thread(target=self._read, daemon=True, name=f"link-{pid}")

    def start(self, request: bytes) -> None:
        """Hand the agent its line's key and its request (`AgentRequest.encode()`)."""
        payload = self.key + request
        self.conn.sendall(HEADER.pack(REQUEST, len(payload)) + payload)
        self.thread.start()

    def _read(self) -> None:
        try:
            while True:
                try:
                    kind, length = HEADER.unpack(_recv_exact(self.conn, HEADER.size, first=True))
                except _Cut:
                    raise
                except EOFError:
                    return
                if self.result is not None:
                    raise ChannelError("it wrote more after its result")
                limit = MAX_RESULT if kind == RESULT else MAX_SMALL
                if kind not in (CALLED, RESULT):
                    raise ChannelError(f"an unknown frame type {kind!r}")
                if length > limit:
                    raise ChannelError(f"a frame of {length} bytes")
                mac = _recv_exact(self.conn, MAC_BYTES)
                payload = _recv_exact(self.conn, length)
                if not _compare(mac, _mac(self.key, kind, payload)):
                    raise ChannelError("a frame the agent did not sign")
                if kind == CALLED:
                    self.called, self.called_at = True, time.monotonic()
                else:
                    self.result, self.result_at = payload, time.monotonic()
        except EOFError:
            self.problem = self.problem or "its report was cut off in the middle of a frame"
        except ChannelError as exc:
            self.problem = f"its line to the grader carried {exc}"
        except OSError as exc:
            self.problem = f"its line to the grader failed ({exc.strerror or exc})"

    def close(self) -> None:
        try:
            self.conn.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.conn.close()
        self.thread.join(timeout=2)


class Switchboard:
    """The supervisor's listening socket: hands the request to `expected` agents, no others."""

    def __init__(self, rundir: str, expected: int, request: AgentRequest, is_ours):
        self.path = os.path.join(rundir, SOCKET_NAME)
        self.expected, self.request, self.is_ours = expected, request.encode(), is_ours
        self.links: list[Link] = []  # every accepted agent, in the order they connected
        self.refused: list[str] = []
        self._listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._listener.bind(self.path)
        os.chmod(self.path, 0o666)  # the agents run as the student
        self._listener.listen(64)
        self._stop = False
        self._accepted: list[Link] = []
        self._thread = threading.Thread(target=self._accept, daemon=True, name="switchboard")
        self._thread.start()

    def _accept(self) -> None:
        seen: set[int] = set()
        pending: list[Link] = []
        while not self._stop and len(pending) < self.expected:
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            pid = struct.unpack(
                "3i", conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
            )[0]
            if pid in seen or not self.is_ours(pid):
                self.refused.append(
                    f"a connection from process {pid}, which is not one of this request's agents"
                )
                conn.close()
                continue
            seen.add(pid)
            pending.append(Link(conn, pid))
        self._accepted = pending
        if not self._stop:
            self.links = pending  # before any agent can get its request, finish and be read
            for link in pending:  # all connected: only now may anyone run student code
                try:
                    link.start(self.request)
                except OSError as exc:
                    link.problem = f"the request could not be handed over ({exc})"
        self._close_listener()

    def _close_listener(self) -> None:
        try:
            self._listener.shutdown(socket.SHUT_RDWR)  # wakes a blocked accept()
        except OSError:
            pass
        try:
            self._listener.close()
            os.unlink(self.path)
        except OSError:
            pass

    def calls_started(self) -> int:
        return sum(link.called for link in self.links)

    def settle(self, timeout: float = 5.0) -> None:
        """Wait until every link has been handed out and has read its agent's last bytes (the
        agents are gone by now: one that never connected will not)."""
        self._close_listener()  # wakes a switchboard still waiting for an agent that died
        self._thread.join(timeout)
        for link in self.links:
            if link.thread.ident:  # started (a link whose hand-out failed never is)
                link.thread.join(timeout)

    def close(self) -> None:
        self._stop = True
        self._close_listener()
        self._thread.join(timeout=2)
        for link in getattr(self, "_accepted", []):
            link.close()
