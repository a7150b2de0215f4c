"""Tools that wrap the agent's command line and log what they find (Oclgrind, compute-sanitizer).

The supervisor asks `prepare` for the argv prefix of the checks a request names, and, after the
run, `collect` puts each tool's findings into the reply's `checks[<name>]["findings"]`.

A tool runs inside the student's process, so whatever it writes, the student's code could write
too. Its log is therefore a named pipe that the supervisor creates in its own folder (owner
root, mode 0622: the student's uid may open it for writing only) and drains from a thread while
the run goes on: a pipe cannot be truncated, rewound or read back, so the student can at most
add text -- and the parser only ever takes findings out of it, never away. What is kept is
capped; the rest is read and dropped so the tool never blocks. Output the student prints never
reaches a finding. A tool that is not installed here is reported as unavailable, and the
request still runs without it. Any failure to read or parse a log is the student's doing: the
check then reports that it could not run, never a platform error.
"""

from __future__ import annotations

import os
import threading

from grader.checks import oclgrind, sanitizer
from grader.protocol import Request

TOOLS = {oclgrind.NAME: oclgrind, sanitizer.NAME: sanitizer}
MAX_LOG_BYTES = 512 * 1024


class Log:
    """A tool's log pipe and the thread that drains it."""

    def __init__(self, path: str):
        self.path = path
        os.mkfifo(path, 0o600)
        os.chmod(path, 0o622)  # others (the student's uid) may write only
        self.kept = bytearray()
        self.dropped = 0
        self.error = ""
        self.thread = threading.Thread(target=self._drain, daemon=True, name="tool-log")
        self.thread.start()

    def _drain(self) -> None:
        try:
            fd = os.open(self.path, os.O_RDONLY)  # waits for the tool's first open
        except OSError as exc:
            self.error = str(exc)
            return
        try:
            while True:
                chunk = os.read(fd, 65536)
                if not chunk:
                    return
                room = MAX_LOG_BYTES - len(self.kept)
                self.kept += chunk[: max(room, 0)]
                self.dropped += max(len(chunk) - max(room, 0), 0)
        except OSError as exc:
            self.error = str(exc)
        finally:
            os.close(fd)

    def finish(self) -> None:
        """Once every writer is gone: let a reader still waiting for its first writer go."""
        if self.thread.is_alive():
            try:
                fd = os.open(self.path, os.O_WRONLY | os.O_NONBLOCK)
                os.close(fd)
            except OSError:
                pass
        self.thread.join(timeout=5)


def prepare(request: Request, rundir: str) -> tuple[list[str], dict[str, Log | None]]:
    """(argv prefix, {check name: its log, or None when the tool is missing here})."""
    prefix: list[str] = []
    logs: dict[str, Log | None] = {}
    for name, options in request.checks.items():
        tool = TOOLS.get(name)
        if tool is None:
            continue
        path = os.path.join(rundir, f"{name}.log")
        argv = tool.command(options or {}, path)
        if argv is None or prefix:  # one wrapper per run
            logs[name] = None
            continue
        prefix, logs[name] = argv, Log(path)
    return prefix, logs


def collect(reply: dict, logs: dict[str, Log | None]) -> None:
    """Put each tool's findings (or why there are none) into `reply["checks"][name]`."""
    for name, log in logs.items():
        report = reply.setdefault("checks", {}).setdefault(name, {})
        if log is None:
            report.update(
                available=False,
                intact=False,
                error=f"{name} is not installed on this grading machine",
            )
            continue
        log.finish()
        if log.error:
            report.update(available=True, intact=False, error=f"the {name} log could not be read")
            continue
        try:
            found = TOOLS[name].parse_log(bytes(log.kept).decode("utf-8", "replace"))
        except Exception as exc:  # noqa: BLE001 - whatever is in the log, the student wrote it
            report.update(
                available=True,
                intact=False,
                error=f"the {name} log could not be parsed ({type(exc).__name__}): "
                "something other than the tool wrote into it",
            )
            continue
        report.update(available=True, findings=found, log_truncated=bool(log.dropped))
