"""The `student` object tests use to reach the student's code in the sandbox.

    value = student.call("parallel_count", 4, 1000)
    value = student.run(probe, 4, checks={"lockset": {}})
    values = student.run(probe, ranks=4)          # one value per MPI rank

`call` runs a function of the student's module; `run` sends the *source* of
`probe(module, *args)` (a plain top-level function of the test file) to the
sandbox and runs it there. Every request runs in a fresh process. A reply that
is not a value becomes a verdict (`StudentError`, `Timeout`, `Deadlock`,
`Crashed`: `grader.judge.verdicts.reply`); the full reply of the last request stays in
`student.last`. Where the run's tests use a race check, every request also carries the
lockset check (`grader.judge.race_watch`).
"""

from __future__ import annotations

import inspect
import textwrap
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from grader.agent import codec
from grader.judge import uncaught, verdicts
from grader.judge.race_watch import RaceWatch
from grader.judge.verdicts.reply import raise_for
from grader.judge.verdicts.wording import describe_call
from grader.protocol import Reply, Request
from grader.sandbox.base import Session


@dataclass
class Student:
    session: Session
    module: str
    timeout: float
    limits: dict
    requests: list[dict] = field(default_factory=list)
    last: Reply | None = None
    submission: Path | None = (
        None  # the prepared submission on the judge's side (read as text only)
    )
    on_reply: Callable[[Reply], None] | None = None  # sees every reply (the plugin notes tampering)
    shared_runs: dict = field(default_factory=dict, repr=False)  # runs several tests share (Celery)
    races: RaceWatch = field(default_factory=RaceWatch)  # race checks on every request, if any

    def source_file(self) -> Path:
        """The student's module file as handed in, for static checks (never imported here)."""
        if self.submission is None:
            raise verdicts.SandboxFault("the submission folder is not known to this test run")
        return self.submission / f"{self.module.replace('.', '/')}.py"

    # ------------------------------------------------------------ requests
    # Keyword arguments named in OPTIONS configure the request; all others go to the student's code.
    OPTIONS = ("timeout", "checks", "ranks", "mpi", "start_method", "what", "exclusive_cores")

    def call(self, function: str, *args, **kwargs):
        """`module.function(*args, **kwargs)` in the sandbox; its value, or a verdict raised."""
        reply = self.reply(function, *args, **kwargs)
        raise_for(reply)
        return reply.value

    def run(self, probe, *args, **kwargs):
        """`probe(module, *args, **kwargs)` in the sandbox; its value, or a verdict raised."""
        reply = self.reply(probe, *args, **kwargs)
        raise_for(reply)
        return reply.value

    def reply(self, probe_or_name, *args, **kwargs) -> Reply:
        """Like `run`/`call` but returns the `Reply` whatever happened (no verdict raised).

        Options: timeout (seconds), checks ({"lockset": {}, "preempt": {"seed": s}}), ranks (run
        under `mpiexec -n ranks`), mpi ({"strict": True}), start_method ("spawn", "fork"),
        what (how messages name this call), exclusive_cores (n: run on n host cores no other
        request uses, for tests that measure time or parallelism; see grader.sandbox.cores)."""
        options = {k: kwargs.pop(k) for k in self.OPTIONS if k in kwargs}
        function, probe = None, None
        if callable(probe_or_name):
            probe = {"source": probe_source(probe_or_name), "name": probe_or_name.__name__}
            name = probe_or_name.__name__.lstrip("_")
        else:
            function = name = probe_or_name
        what = options.get("what") or describe_call(name, args, kwargs)
        asked = options.get("checks") or {}
        request = Request(
            kind="call" if probe is None else "run",
            function=function,
            probe=probe,
            module=self.module,
            args=codec.encode(list(args)),
            kwargs=codec.encode(dict(kwargs)),
            timeout=float(options.get("timeout") or self.timeout),
            limits=self.limits,
            checks=self.races.checks_for(asked),
            ranks=int(options.get("ranks") or 0),
            mpi=options.get("mpi") or {},
            start_method=options.get("start_method"),
            exclusive_cores=int(options.get("exclusive_cores") or 0),
        )
        self.requests.append({"what": what, "checks": asked, "ranks": request.ranks})
        self.last = Reply(self.session.call(request.to_wire()), what)
        self.races.saw(self.last)
        uncaught.note(self.last, self.submission)  # a thread or child process that died
        if self.on_reply is not None:
            self.on_reply(self.last)
        return self.last


def probe_source(probe) -> str:
    if not inspect.isfunction(probe) or probe.__qualname__ != probe.__name__:
        raise TypeError("a probe must be a top-level function of the test file")
    return textwrap.dedent(inspect.getsource(probe))
