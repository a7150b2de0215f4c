"""A unix-socket proxy in front of the Docker engine that a test can switch off and on.

    with DockerProxy(tmp_path / "docker.sock") as proxy:
        env = {**os.environ, "DOCKER_HOST": proxy.url}   # clients talk to the proxy
        proxy.down()   # every open connection is cut, new ones are closed at once
        proxy.up()     # connections reach the real engine again

The real dockerd is never touched (others use it); only clients that go through the proxy see
the engine vanish. Bytes are copied both ways unchanged, so `docker exec`'s hijacked streams
work. Runs in background threads of the test process.
"""

from __future__ import annotations

import os
import socket
import threading
from pathlib import Path

UPSTREAM = "/var/run/docker.sock"


class DockerProxy:
    def __init__(self, path: Path, upstream: str = UPSTREAM):
        self.path, self.upstream = Path(path), upstream
        self.url = f"unix://{self.path}"
        self.is_up = True
        self.refused = 0  # connections closed while down
        self._lock = threading.Lock()
        self._open: set[socket.socket] = set()
        self._listener: socket.socket | None = None

    # ------------------------------------------------------------ switching

    def down(self) -> None:
        """Cut every connection and close new ones at once, until `up()`."""
        with self._lock:
            self.is_up = False
            open_now, self._open = list(self._open), set()
        for sock in open_now:
            _close(sock)

    def up(self) -> None:
        with self._lock:
            self.is_up = True

    # ------------------------------------------------------------ life cycle

    def start(self) -> DockerProxy:
        if self.path.exists():
            self.path.unlink()
        self._listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._listener.bind(str(self.path))
        self._listener.listen(128)
        threading.Thread(target=self._accept, daemon=True, name="docker-proxy").start()
        return self

    def stop(self) -> None:
        self.down()
        if self._listener is not None:
            _close(self._listener)
            self._listener = None
        if self.path.exists():
            self.path.unlink()

    def __enter__(self) -> DockerProxy:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # ------------------------------------------------------------ plumbing

    def _accept(self) -> None:
        listener = self._listener
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # stopped
            with self._lock:
                up = self.is_up
            if not up:
                self.refused += 1
                _close(client)
                continue
            engine = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                engine.connect(self.upstream)
            except OSError:
                _close(client)
                _close(engine)
                continue
            with self._lock:
                if not self.is_up:  # switched off meanwhile
                    _close(client)
                    _close(engine)
                    continue
                self._open.update((client, engine))
            pair = {"left": 2}
            for src, dst in ((client, engine), (engine, client)):
                threading.Thread(target=self._pump, args=(src, dst, pair), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket, pair: dict) -> None:
        """Copy `src` to `dst`; the second direction to end closes both sockets."""
        try:
            while data := src.recv(65536):
                dst.sendall(data)
            dst.shutdown(socket.SHUT_WR)  # pass the half-close on
        except OSError:
            pass
        with self._lock:
            pair["left"] -= 1
            last = pair["left"] == 0
            if last:
                self._open.difference_update((src, dst))
        if last:
            _close(src)
            _close(dst)


def _close(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    try:
        sock.close()
    except OSError:
        pass


def proxy_env(proxy: DockerProxy) -> dict[str, str]:
    """The environment of a process whose Docker clients go through `proxy`."""
    return {**os.environ, "DOCKER_HOST": proxy.url}
