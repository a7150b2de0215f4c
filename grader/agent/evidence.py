"""The evidence line: how what the audit hook refused reaches the supervisor, as it happens.

Evidence of tampering must survive its author. It used to be a file in the output folder, which
belongs to the student's uid: code that reached the folder by a route the hook could not see
(a directory descriptor) deleted it. Now every process that runs the audit hook -- the agent
(each MPI rank), its forked children, the children multiprocessing spawns -- connects, before
any of the student's code runs in it, to `RUNDIR/evidence.sock`, a socket the supervisor
listens on for this request alone (the warm template never holds it: nothing crosses from one
student to the next), and writes each piece of evidence there at once as one JSON line
(`grader.protocol.Evidence`, at most `MAX_RECORD` bytes, written in one call: lines of
processes sharing the connection never mix). The supervisor (`Collector`, another process and,
in the container, another uid) reads it while the run goes on, so what was sent is out of the
student's reach: closing the connection, writing over it or flooding it cannot take it back.

The student's code can close the descriptor, dup2 something over it, shut it down, or write
into it. Before each record the agent's side checks that its descriptor is still the socket it
connected (device and inode); if not, or a write fails, it connects again and says first that
the line was lost, and the agent's signed result says so too (`evidence_lost`). What the student
writes is read with caps -- `MAX_RECORD` a line, `MAX_RECORDS` records, `MAX_BYTES` parsed,
`MAX_CONNECTIONS` connections -- by a loop without recursion; a line that is not a record the
hook writes is evidence itself, and a flood is drained, counted and reported. Standard library
only (it runs in the sandbox).
"""

from __future__ import annotations

import _socket
import json
import os
import selectors
import socket
import struct
import threading

from grader.agent import channel
from grader.protocol import Evidence, MalformedMessage

SOCKET_NAME = "evidence.sock"
MAX_RECORD = 4096  # bytes in one line, newline included
MAX_PER_PROCESS = 100  # records one process sends (honest code sends none)
MAX_RECORDS = 100  # records the supervisor keeps
MAX_BYTES = 1_000_000  # bytes the supervisor parses; the rest is drained and counted
MAX_CONNECTIONS = 64
MAX_NOTES = 5  # malformed lines described one by one
LOST = "the line that carries evidence to the grader was closed or replaced by the student's code"

# Bound now, before any student code runs: the student may rebind os.write or socket's methods.
_write, _fstat, _close = os.write, os.fstat, os.close
_AF_UNIX, _STREAM = _socket.AF_UNIX, _socket.SOCK_STREAM
_new_socket = _socket.socket  # the C type: its methods cannot be replaced


# ---------------------------------------------------------------- the agent's side


def _ident(fd: int) -> tuple[int, int] | None:
    try:
        info = _fstat(fd)
    except OSError:
        return None
    return info.st_dev, info.st_ino


class Sender:
    """A process's end of the evidence line. `send` never raises: a refusal must not depend on
    whether its evidence could be sent. Slots only."""

    __slots__ = ("_path", "_fd", "_ident", "_sent", "lost")

    def __init__(self, path: str):
        self._path, self._sent, self.lost = path, 0, False
        self._fd = self._connect()
        self._ident = _ident(self._fd)
        os.register_at_fork(after_in_child=self._forked)

    def _connect(self) -> int:
        sock = _new_socket(_AF_UNIX, _STREAM)
        try:
            sock.connect(self._path)
        except BaseException:
            sock.close()
            raise
        return sock.detach()  # not inherited by exec'd programs (a descriptor's default)

    def _forked(self) -> None:
        self._sent = 0  # each process has its own allowance; the connection is shared

    def intact(self) -> bool:
        """Whether the descriptor is still the socket it connected (`lost`: whether it ever
        stopped being it, or a write failed)."""
        if _ident(self._fd) == self._ident:
            return True
        self.lost = True
        return False

    def send(self, item: dict) -> None:
        if self._sent >= MAX_PER_PROCESS:
            return
        self._sent += 1
        try:
            record = _record(item)
        except Exception:  # noqa: BLE001 - never: the hook builds plain items
            return
        if _ident(self._fd) != self._ident or not self._put(record):
            self.lost = True
            try:
                self._fd = self._connect()  # a descriptor of our own again
                self._ident = _ident(self._fd)
            except Exception:  # noqa: BLE001 - the signed result still says the line was lost
                return
            self._put(_record({"event": "evidence-line", "what": LOST}))
            self._put(record)

    def _put(self, record: bytes) -> bool:
        view = memoryview(record)
        try:
            while view:
                view = view[_write(self._fd, view) :]
        except OSError:
            return False
        return True


def _record(item: dict) -> bytes:
    """One line of plain JSON (ASCII, so no raw newline inside), cut to fit `MAX_RECORD`."""
    item = {k: v[:600] if type(v) is str else v for k, v in item.items()}
    line = channel._dumps(item)
    if len(line) >= MAX_RECORD:
        item = {k: v[:100] if type(v) is str else v for k, v in item.items()}
        line = channel._dumps(item)[: MAX_RECORD - 1]
    return line + b"\n"


def connect(rundir: str) -> Sender:
    """Connect this process's evidence line (before any of the student's code runs in it)."""
    return Sender(os.path.join(rundir, SOCKET_NAME))


# ---------------------------------------------------------------- the supervisor's side


class _Conn:
    __slots__ = ("sock", "pid", "buffer", "skipping")

    def __init__(self, sock, pid: int):
        self.sock, self.pid, self.buffer, self.skipping = sock, pid, b"", False


def _alive(pid: int) -> bool:
    """Whether `pid` is a process that has not ended (a zombie has)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rsplit(b")", 1)[1].split()[0] not in (b"Z", b"X")
    except (OSError, IndexError):
        return False


class Collector:
    """The supervisor's end: listens on `RUNDIR/evidence.sock` for this request's processes
    (`is_ours(pid)`) and reads their evidence while the run goes on (a thread of its own)."""

    def __init__(self, rundir: str, is_ours):
        self.path = os.path.join(rundir, SOCKET_NAME)
        self.is_ours = is_ours
        self.records: list[Evidence] = []
        self.notes: list[str] = []  # what the student did to the line itself
        self.malformed = self.dropped = self.parsed_bytes = self.drained_bytes = 0
        self.refused = self.connections = self.unverifiable = 0
        self._closed = False
        self._conns: dict[int, _Conn] = {}
        self._listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._listener.bind(self.path)
        os.chmod(self.path, 0o666)  # the student's processes connect
        self._listener.listen(64)
        self._listener.setblocking(False)
        self._selector = selectors.DefaultSelector()
        self._selector.register(self._listener, selectors.EVENT_READ)
        self._wake, self._waker = socket.socketpair()  # close() wakes the loop at once
        self._selector.register(self._wake, selectors.EVENT_READ)
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._loop, daemon=True, name="evidence")
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                ready = self._selector.select(0.05)
            except (OSError, ValueError):
                return
            with self._lock:
                for key, _ in ready:
                    if key.fileobj is self._wake:
                        return
                    if key.fileobj is self._listener:
                        self._accept()
                    else:
                        self._read(key.fd)

    def _accept(self) -> None:
        try:
            sock, _ = self._listener.accept()
        except OSError:
            return
        fd = sock.fileno()
        try:
            raw = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
            pid = struct.unpack("3i", raw)[0]
        except (OSError, struct.error):
            pid = -1
        # over the cap, refused before anything is looked up: a flood of connections costs
        # the supervisor an accept and a close each
        if self.connections >= MAX_CONNECTIONS or not self.is_ours(pid):
            if self.connections < MAX_CONNECTIONS and not _alive(pid):
                self.unverifiable += 1  # ended before it could be told ours: no one's evidence
            else:
                self.refused += 1
            sock.close()
            return
        self.connections += 1
        sock.setblocking(False)
        self._conns[fd] = _Conn(sock, pid)
        self._selector.register(sock, selectors.EVENT_READ)

    def _read(self, fd: int, budget: int = 1 << 20) -> None:
        """What is waiting on one connection (up to `budget` bytes), line by line."""
        conn = self._conns.get(fd)
        while conn is not None and budget > 0:
            try:
                data = conn.sock.recv(65536)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                data = b""
            if not data:
                self._drop(fd)
                return
            budget -= len(data)
            self._feed(conn, data)

    def _feed(self, conn: _Conn, data: bytes) -> None:
        if self.parsed_bytes >= MAX_BYTES:
            self.drained_bytes += len(data)
            return
        self.parsed_bytes += len(data)
        lines = (conn.buffer + data).split(b"\n")
        conn.buffer = lines.pop()
        for line in lines:
            if conn.skipping:  # the rest of an overlong line
                conn.skipping = False
                continue
            self._take(line)
        if len(conn.buffer) >= MAX_RECORD:
            if not conn.skipping:
                self._bad(f"a line of over {MAX_RECORD} bytes")
            conn.buffer, conn.skipping = b"", True

    def _take(self, line: bytes) -> None:
        if len(self.records) >= MAX_RECORDS:
            self.dropped += 1
            return
        try:
            record = Evidence.parse(json.loads(line))
        except (ValueError, RecursionError, MalformedMessage) as exc:  # UnicodeError: ValueError
            self._bad(str(exc)[:200] or type(exc).__name__)
            return
        self.records.append(record)

    def _bad(self, why: str) -> None:
        self.malformed += 1
        if self.malformed <= MAX_NOTES:
            self.notes.append(f"a line the grader never writes ({why})")

    def _drop(self, fd: int) -> None:
        conn = self._conns.pop(fd, None)
        if conn is None:
            return
        try:
            self._selector.unregister(conn.sock)
        except (KeyError, ValueError, OSError):
            pass
        conn.sock.close()

    def close(self) -> list[dict]:
        """Stop listening, read what is left (the process tree is dead by now), and return the
        evidence: the records, then what the student did to the line (once: then [])."""
        if self._closed:
            return []
        self._closed = True
        self._stop.set()
        self._waker.send(b"x")
        self._thread.join(timeout=5)
        with self._lock:
            for _ in range(MAX_CONNECTIONS + 1):  # connections still waiting to be accepted
                before = self.connections + self.refused
                self._accept()
                if self.connections + self.refused == before:
                    break
            for fd in list(self._conns):
                self._read(fd, budget=MAX_BYTES)
                self._drop(fd)
            try:
                self._selector.unregister(self._listener)
            except (KeyError, ValueError, OSError):
                pass
            self._listener.close()
            self._selector.close()
            self._wake.close()
            self._waker.close()
        try:
            os.unlink(self.path)
        except OSError:
            pass
        return [r.to_wire() for r in self.records] + [
            {"event": "evidence-line", "what": note} for note in self._line_notes()
        ]

    def _line_notes(self) -> list[str]:
        notes = list(self.notes)
        if self.malformed > MAX_NOTES:
            notes.append(f"{self.malformed - MAX_NOTES} more lines the grader never writes")
        if self.drained_bytes:
            notes.append(
                f"the evidence line was flooded: {self.drained_bytes} bytes beyond the "
                f"{MAX_BYTES} read were drained unread"
            )
        if self.dropped:
            notes.append(f"{self.dropped} more records beyond the {MAX_RECORDS} kept")
        if self.refused:
            notes.append(
                f"{self.refused} connection(s) to the evidence line refused (not this request's "
                f"processes, or over {MAX_CONNECTIONS})"
            )
        return notes
