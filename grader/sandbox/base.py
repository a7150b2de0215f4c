"""What every sandbox backend provides: a `Session` per submission that runs requests.

A request is a JSON-able dict (see `grader.agent.supervisor`). Each session starts one
supervisor server (`grader.agent.server`) in its sandbox and sends it the session's requests,
one `grader.protocol` frame each, over a private socket (never in an argument: any process can
read any other's command line); each reply comes back as one frame. Backends differ only in
*where* the server runs and how the host reaches it.
"""

from __future__ import annotations

import json
import socket
import subprocess
import time
from abc import ABC, abstractmethod
from pathlib import Path

from grader import protocol
from grader.agent import untrusted

# A request's `timeout` counts from the moment every rank has called the student's function
# (each agent says so to the supervisor just before): starting interpreters, importing numpy and
# mpi4py and the student's module, on a loaded machine, must not eat into it. Start-up itself
# gets STARTUP_SECONDS on top; a hang at import is still caught.
from grader.agent.supervisor import STARTUP_SECONDS
from grader.course import Limits
from grader.protocol import Status

NOT_ROOT = (
    "the Docker backend needs the grader to run as root: the sandbox's supervisor, root in its "
    "container but with no capability to override file permissions, must create its socket in "
    "a folder the grader makes (run as root, e.g. with sudo, or use the local backend)"
)


def remove_tree(path: Path) -> None:
    """Remove a tree the student's code wrote, however deep (`shutil.rmtree` recurses and dies
    of RecursionError on 1,000 nested folders; `rm` does not), quietly."""
    subprocess.run(["chmod", "-R", "u+rwx", "--", str(path)], capture_output=True)
    subprocess.run(["rm", "-rf", "--", str(path)], capture_output=True)


GRACE = 10.0  # seconds the supervisor gets beyond the longest it may let a request run
REPLY_DEPTH = 220  # a result's value nests up to 200 levels (see the supervisor), in a reply


def supervisor_limit(request: dict) -> float:
    """The longest a request may take before the backend gives up on its supervisor: start-up,
    then the request's own timeout once the student's function is called, then the grace."""
    return 2 * float(request.get("timeout", 10)) + STARTUP_SECONDS + GRACE


class ServerLink:
    """The host's end of a connection to a sandbox's supervisor server (`grader.agent.server`):
    one request at a time, each answered by one reply frame."""

    def __init__(self, sock: socket.socket):
        self.sock = sock

    def call(self, request: dict, limit: float) -> dict | None:
        """The reply to `request`, or None if none came within `limit` seconds or the link
        broke (the caller restarts the server)."""
        deadline = time.monotonic() + limit

        def read(n: int) -> bytes:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError
            self.sock.settimeout(left)
            return self.sock.recv(n)

        try:
            self.sock.settimeout(limit)
            protocol.send(self.sock, request)
            body = protocol.decode_from(read, protocol.MAX_REPLY)
        except OSError:  # a timeout, a broken frame, a closed socket
            return None
        return None if body is None else parse_reply(body)

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass


def parse_reply(body: bytes) -> dict:
    """A reply frame's body, cleaned once more of anything the student's side could have put
    in it (`untrusted.clean`: depth, sizes, lone surrogates, NUL) before any test sees it."""
    try:
        reply = untrusted.clean(
            json.loads(body),
            max_depth=REPLY_DEPTH,
            max_items=40_000_000,
            max_len=40_000_000,
            max_str=2**31,
        )
    except (ValueError, RecursionError) as exc:
        return {
            "status": Status.SANDBOX_ERROR,
            "message": f"the supervisor's reply could not be read ({exc})",
        }
    if not isinstance(reply, dict) or not isinstance(reply.get("status"), str):
        return {"status": Status.SANDBOX_ERROR, "message": "the supervisor's reply has no status"}
    return reply


class Session(ABC):
    """One submission's sandbox: created by `Backend.open`, closed exactly once."""

    gpu: bool = False  # whether the student's code can reach a GPU in this session

    @abstractmethod
    def call(self, request: dict) -> dict:
        """Run one request; always returns a reply dict (never raises for the student's faults)."""

    @abstractmethod
    def close(self) -> None:
        """Release everything (kill processes, remove the container). Idempotent."""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class Backend(ABC):
    name: str

    @abstractmethod
    def open(self, submission: Path, limits: Limits, gpu: bool = False) -> Session:
        """A session over the prepared submission folder (read-only for the student); with `gpu`,
        one that reaches the host's GPU where there is one (`Session.gpu` says)."""

    def describe(self) -> dict:
        """Facts recorded in results.json (backend name, image id, ...)."""
        return {"backend": self.name}

    def close(self) -> None:  # noqa: B027 - a no-op unless a backend holds resources
        """Release backend-wide resources."""
