"""The supervisor server: serves one sandbox session's requests, one at a time, for its lifetime.

    python -I -m grader.agent.server --socket PATH --submission DIR --workroot DIR   (Docker)
    python -I -m grader.agent.server --stdio --submission DIR --workroot DIR          (local)

In the Docker sandbox it is the container's PID 1 (so every orphan of the student's comes to
it, and the student's `kill(-1)` spares it), listening on a Unix socket in a folder only root
can enter (`/run/pgrader`, bound to a private folder of the host): the student's uid can neither
connect nor see it. The local backend talks to it over its standard input and output instead.

Each request is a `grader.protocol` frame; `grader.agent.supervisor.supervise` runs it and its
reply goes back as one frame. Starting one server per session, not one supervisor per request,
saves a `docker exec` and an interpreter start on every request.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import sys

from grader import protocol
from grader.agent import spawn, supervisor

ACCEPT_POLL = 0.5  # seconds between looks for orphans to reap while no host is connected


def handle(body: bytes, submission: str, workroot: str) -> dict:
    """The reply to one request frame; a platform failure (a request that is not one included)
    is a `sandbox-error` reply, never a dead server."""
    try:
        request = protocol.Request.parse(body)
    except protocol.MalformedMessage as exc:
        return {"status": protocol.Status.SANDBOX_ERROR, "message": f"bad request: {exc}"}
    try:
        # the local backend's own work area
        return supervisor.supervise(submission, request.workroot or workroot, request)
    except Exception as exc:  # noqa: BLE001 - the reply must always come
        return {"status": protocol.Status.SANDBOX_ERROR, "message": f"supervisor failed: {exc!r}"}


def serve_socket(path: str, owner: tuple[int, int], submission: str, workroot: str) -> None:
    """Serve on a Unix socket that only `owner` (the host's user) may connect to."""
    if os.path.lexists(path):
        os.unlink(path)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    old = os.umask(0o077)  # nobody else may connect, not even for a moment
    try:
        listener.bind(path)
    finally:
        os.umask(old)
    os.chown(path, *owner)
    os.chmod(path, 0o600)
    listener.listen(4)
    listener.settimeout(ACCEPT_POLL)
    while True:
        supervisor.reap()  # orphans that ended between requests
        try:
            conn, _ = listener.accept()
        except TimeoutError:
            continue
        conn.settimeout(None)
        with conn:
            try:
                while (body := protocol.receive(conn, protocol.MAX_REQUEST)) is not None:
                    protocol.send(conn, handle(body, submission, workroot))
            except OSError:
                continue  # the host went away (it restarts us if it needs to)


def serve_stdio(submission: str, workroot: str) -> None:
    # The frames go out on a private copy of standard output; whatever else writes to file
    # descriptor 1 (nothing should) lands on standard error instead of in a frame.
    out = os.fdopen(os.dup(1), "wb", buffering=0)
    os.dup2(2, 1)

    def read(n: int) -> bytes:  # unbuffered, as sys.stdin.buffer.raw.read
        return os.read(0, n)

    while (body := protocol.decode_from(read, protocol.MAX_REQUEST)) is not None:
        out.write(protocol.encode(handle(body, submission, workroot)))


def main() -> None:
    parser = argparse.ArgumentParser()
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--socket", help="serve on this Unix socket (the Docker sandbox)")
    where.add_argument("--stdio", action="store_true", help="serve on stdin/stdout (local)")
    parser.add_argument(
        "--cold", action="store_true", help="exec every agent (no warm template): for comparisons"
    )
    parser.add_argument(
        "--preload",
        default="",
        help="comma-separated libraries the template imports too (of spawn.OPTIONAL_PRELOAD)",
    )
    parser.add_argument("--owner", default="0:0", help="UID:GID the socket belongs to (the host's)")
    parser.add_argument("--submission", required=True)
    parser.add_argument("--workroot", required=True)
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # PID 1 ignores what it does not handle
    supervisor.become_subreaper()  # outside a container: orphans of the student's come to us
    preload = tuple(name for name in args.preload.split(",") if name)
    unknown = sorted(set(preload) - set(spawn.OPTIONAL_PRELOAD))
    if unknown:
        parser.error(f"--preload: not a library the template may preload: {', '.join(unknown)}")
    if not args.cold:
        supervisor.start_template(preload)  # before any thread or socket of ours exists
    if args.socket:
        uid, gid = (int(x) for x in args.owner.split(":"))
        serve_socket(args.socket, (uid, gid), args.submission, args.workroot)
    else:
        serve_stdio(args.submission, args.workroot)


if __name__ == "__main__":
    main()
