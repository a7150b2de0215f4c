"""Tools that wrap the agent's command line and log what they find (Oclgrind, compute-sanitizer).

The supervisor asks `prepare` for the argv prefix of the checks a request names,
and, after the run, `collect` reads each tool's log into the reply's
`checks[<name>]["findings"]`. Each log is a file in the run folder, which the
student cannot write into: the supervisor creates it (mode 0622, so the tool,
running in the student's process, can write it but not change its mode) and
reads it back with the safe reader (no symlink, regular file only, size cap).
Output the student prints never reaches a finding. A tool that is not installed
here is reported as unavailable, and the request still runs without it.
"""

from __future__ import annotations

import os

from grader.agent.safeio import read_untrusted
from grader.checks import oclgrind, sanitizer

TOOLS = {oclgrind.NAME: oclgrind, sanitizer.NAME: sanitizer}
MAX_LOG_BYTES = 512 * 1024


def prepare(request: dict, rundir: str) -> tuple[list[str], dict[str, str | None]]:
    """(argv prefix, {check name: log path, or None when the tool is missing here})."""
    prefix: list[str] = []
    logs: dict[str, str | None] = {}
    for name, options in (request.get("checks") or {}).items():
        tool = TOOLS.get(name)
        if tool is None:
            continue
        path = os.path.join(rundir, f"{name}.log")
        argv = tool.command(options or {}, path)
        if argv is None or prefix:  # one wrapper per run
            logs[name] = None
            continue
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        os.fchmod(fd, 0o622)
        os.close(fd)
        prefix, logs[name] = argv, path
    return prefix, logs


def collect(reply: dict, logs: dict[str, str | None]) -> None:
    """Put each tool's findings (or why there are none) into `reply["checks"][name]`."""
    for name, path in logs.items():
        report = reply.setdefault("checks", {}).setdefault(name, {})
        if path is None:
            report.update(available=False, intact=False,
                          error=f"{name} is not installed on this grading machine")
            continue
        got = read_untrusted(path, MAX_LOG_BYTES)
        if got is None:
            report.update(available=True, intact=False, error=f"the {name} log could not be read")
            continue
        text, left = got
        report.update(available=True, findings=TOOLS[name].parse_log(text.decode("utf-8", "replace")),
                      log_truncated=bool(left))
