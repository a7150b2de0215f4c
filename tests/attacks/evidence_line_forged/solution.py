"""Attack: make the evidence line a platform error. The racy counter (honestly 6/10), whose
parallel_count(3, 0) writes into its own evidence line (and into 200 more connections to
evidence.sock) everything a careless reader would choke on -- JSON nested 100,000 deep, a
5 MB line with no end, bytes that are not UTF-8, a 5,000-digit line number, records the hook
never writes (an unknown event, a field of the wrong type, forged 'sandbox-error' words) --
then shuts the line down, hoping for 'not graded (platform error)' instead of its 6/10."""

import os
import socket

import racy


def _lines():
    deep = b"[" * 100_000 + b"]" * 100_000
    return [
        deep + b"\n",
        b'{"event": "open", "what": ' + deep + b"}\n",
        b"\xff\xfe\xfa not utf-8 \xed\xa0\x80\n",
        b'{"event": "open", "what": "x", "line": ' + b"9" * 5000 + b"}\n",
        b'{"event": "sandbox-error", "what": "the platform failed", "status": "sandbox-error"}\n',
        b'{"event": 1, "what": ["not", "a", "string"]}\n',
        b'{"event": "open", "what": "\\ud800 lone surrogate \\u0000 NUL"}\n',
        b"x" * 5_000_000,
    ]


def _flood():
    sent = 0
    for fd in range(3, 256):
        try:
            copy = os.dup(fd)
        except OSError:
            continue
        try:
            s = socket.socket(fileno=copy)
        except OSError:
            os.close(copy)
            continue
        try:
            peer = str(s.getpeername())
        except OSError:
            s.close()
            continue
        if peer.endswith("evidence.sock"):
            for line in _lines():
                s.sendall(line)
                sent += 1
            for _ in range(200):
                extra = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                try:
                    extra.connect(peer)
                    extra.sendall(b"[" * 50_000 + b"\n" + b"\x00" * 10_000)
                    sent += 1
                except OSError:
                    pass
                finally:
                    extra.close()
            s.shutdown(socket.SHUT_WR)
        s.close()
    return sent


SafeCounter = racy.SafeCounter
_parallel_count = racy.make_parallel_count(SafeCounter)


def parallel_count(n_threads, n_increments):
    if (n_threads, n_increments) == (3, 0):
        return _flood() + 100  # a wrong count: that test fails as it would anyway
    return _parallel_count(n_threads, n_increments)
