"""What every sandbox backend provides: a `Session` per submission that runs requests.

A request is a JSON-able dict (see `grader.agent.supervisor`); it runs as
`python -I -m grader.agent.supervisor --submission DIR --workroot DIR` inside the sandbox,
with the request on its standard input (never in an argument: any process can read any
other's command line), and the supervisor prints one JSON reply as its last line of standard
output. Backends differ only in *where* that command runs.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from pathlib import Path

from grader.agent import untrusted
# A request's `timeout` counts from the moment every rank has called the student's function
# (each agent says so to the supervisor just before): starting interpreters, importing numpy and
# mpi4py and the student's module, on a loaded machine, must not eat into it. Start-up itself
# gets STARTUP_SECONDS on top; a hang at import is still caught.
from grader.agent.supervisor import REPLY_MARK, STARTUP_SECONDS
from grader.course import Limits

GRACE = 10.0  # seconds the supervisor gets beyond the longest it may let a request run
REPLY_DEPTH = 220  # a result's value nests up to 200 levels (see the supervisor), in a reply


def supervisor_limit(request: dict) -> float:
    """The longest a request may take before the backend gives up on its supervisor: start-up,
    then the request's own timeout once the student's function is called, then the grace."""
    return 2 * float(request.get("timeout", 10)) + STARTUP_SECONDS + GRACE

def encode_request(request: dict) -> bytes:
    """The supervisor's standard input for `request`."""
    return json.dumps(request).encode()


def parse_reply(stdout: bytes, exit_code: int | None) -> dict:
    """The supervisor's reply from its raw output, cleaned once more of anything the student's
    side could have put in it (`untrusted.clean`: depth, sizes, lone surrogates, NUL) before any
    test sees it; a broken sandbox becomes a `sandbox-error` reply."""
    text = stdout.decode("utf-8", "replace")
    for line in reversed(text.splitlines()):
        if line.startswith(REPLY_MARK):
            try:
                reply = untrusted.clean(json.loads(line[len(REPLY_MARK):]), max_depth=REPLY_DEPTH,
                                        max_items=40_000_000, max_len=40_000_000,
                                        max_str=2**31)
            except (ValueError, RecursionError):
                break
            if isinstance(reply, dict) and isinstance(reply.get("status"), str):
                return reply
            break
    return {
        "status": "sandbox-error",
        "message": f"the sandbox supervisor ended (exit code {exit_code}) without a reply",
        "detail": text[-2000:],
    }


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

    def close(self) -> None:
        """Release backend-wide resources."""
