"""Attack: reach the network. The skeleton (0/10) that turns into a working solution -- as if
it had downloaded one -- the moment any connection gets through.

Tries: TCP to 1.1.1.1 and 8.8.8.8, to the host's Docker bridge 172.17.0.1 (the Docker API on
2375/2376, ssh, http), UDP DNS, a DNS lookup, and the Docker socket.
"""

import socket
import threading

ATTEMPTS = []


def _try(what, fn):
    try:
        fn()
        ATTEMPTS.append(f"LEAKED: {what} worked")
        return True
    except Exception as exc:  # noqa: BLE001
        ATTEMPTS.append(f"{what}: {type(exc).__name__}: {exc}")
        return False


def _tcp(host, port):
    def go():
        with socket.create_connection((host, port), timeout=1):
            pass
    return go


def _udp_dns():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(1)
        s.sendto(b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x07example\x03com\x00\x00\x01\x00\x01",
                 ("1.1.1.1", 53))
        s.recvfrom(512)


def _docker_socket():
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(1)
        s.connect("/var/run/docker.sock")


ONLINE = any([
    _try("tcp 1.1.1.1:443", _tcp("1.1.1.1", 443)),
    _try("tcp 8.8.8.8:53", _tcp("8.8.8.8", 53)),
    *[_try(f"tcp 172.17.0.1:{p}", _tcp("172.17.0.1", p)) for p in (2375, 2376, 22, 80)],
    _try("udp dns 1.1.1.1", _udp_dns),
    _try("dns lookup", lambda: socket.getaddrinfo("example.com", 80)),
    _try("docker socket", _docker_socket),
])


class SafeCounter:
    """Works only if the network did (the 'downloaded' solution); otherwise the skeleton."""

    def __init__(self):
        if not ONLINE:
            raise NotImplementedError("offline: " + "; ".join(ATTEMPTS))
        self._lock = threading.Lock()
        self._value = 0

    def increment(self, k=1):
        with self._lock:
            self._value += k

    def decrement(self, k=1):
        with self._lock:
            self._value -= k

    @property
    def value(self):
        with self._lock:
            return self._value


def parallel_count(n_threads, n_increments):
    c = SafeCounter()

    def work():
        for _ in range(n_increments):
            c.increment()

    ts = [threading.Thread(target=work) for _ in range(n_threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return c.value
