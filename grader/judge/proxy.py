"""The `student` object tests use to reach the student's code in the sandbox.

    value = student.call("parallel_count", 4, 1000)
    value = student.run(probe, 4, checks={"lockset": {}})
    values = student.run(probe, ranks=4)          # one value per MPI rank

`call` runs a function of the student's module; `run` sends the *source* of
`probe(module, *args)` (a plain top-level function of the test file) to the
sandbox and runs it there. Every request runs in a fresh process. A reply that
is not a value becomes a verdict (`StudentError`, `Timeout`, `Deadlock`,
`Crashed`); the full reply of the last request stays in `student.last`.
"""

from __future__ import annotations

import inspect
import textwrap
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from grader.agent import codec
from grader.judge import uncaught, verdicts
from grader.sandbox.base import Session

STALL_DEADLOCK = 0.1  # CPU seconds per second during the stall below which a hang is a deadlock


@dataclass
class Reply:
    raw: dict
    what: str

    @property
    def status(self) -> str:
        return self.raw.get("status", "sandbox-error")

    @property
    def value(self):
        return codec.decode(self.raw.get("value"))

    @property
    def cpu(self) -> float:
        return float(self.raw.get("cpu", 0.0))

    @property
    def wall(self) -> float:
        return float(self.raw.get("wall", 0.0))

    @property
    def waited(self) -> str:
        return waited(self.raw)

    @property
    def tampering(self) -> list[dict]:
        """What the audit hook refused the student's code, or why its report was not believed."""
        found = [e for e in self.raw.get("tampering") or [] if isinstance(e, dict)]
        for rank in self.raw.get("ranks") or []:
            if isinstance(rank, dict):
                found += [e for e in rank.get("tampering") or [] if isinstance(e, dict)]
        return found

    @property
    def checks(self) -> dict:
        """Check reports: of the single process, or merged per rank under MPI."""
        if "ranks" in self.raw:
            return {r.get("rank", i): r.get("checks", {}) for i, r in enumerate(self.raw["ranks"])}
        return self.raw.get("checks", {})


@dataclass
class Student:
    session: Session
    module: str
    timeout: float
    limits: dict
    requests: list[dict] = field(default_factory=list)
    last: Reply | None = None
    submission: Path | None = None  # the prepared submission on the judge's side (read as text only)
    on_reply: Callable[[Reply], None] | None = None  # sees every reply (the plugin notes tampering)

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
        if callable(probe_or_name):
            request = {"kind": "run", "probe": {"source": probe_source(probe_or_name),
                                                "name": probe_or_name.__name__}}
            name = probe_or_name.__name__.lstrip("_")
        else:
            request, name = {"kind": "call", "function": probe_or_name}, probe_or_name
        what = options.get("what") or describe_call(name, args, kwargs)
        request.update(
            module=self.module,
            args=codec.encode(list(args)),
            kwargs=codec.encode(dict(kwargs)),
            timeout=float(options.get("timeout") or self.timeout),
            limits=self.limits,
            checks=options.get("checks") or {},
            ranks=int(options.get("ranks") or 0),
            mpi=options.get("mpi") or {},
            start_method=options.get("start_method"),
            exclusive_cores=int(options.get("exclusive_cores") or 0),
        )
        self.requests.append({"what": what, "checks": request["checks"], "ranks": request["ranks"]})
        self.last = Reply(self.session.call(request), what)
        uncaught.note(self.last.raw, self.submission)  # a thread or child process that died
        if self.on_reply is not None:
            self.on_reply(self.last)
        return self.last


# ---------------------------------------------------------------- replies to verdicts

LOCK_FINDINGS = ("self-deadlock", "lock-cycle")


def raise_for(reply: Reply, explain: bool = True) -> None:
    """Raise the verdict a non-value reply deserves (nothing for `ok`). A hang that a check saw
    coming (a lock taken twice, a lock-order cycle) is explained by what the check found."""
    raw, what = reply.raw, reply.what
    status = reply.status
    if status == "ok":
        return
    if explain and status == "timeout" and any(
            f.get("kind") in LOCK_FINDINGS for f in raw.get("findings") or []):
        from grader.judge.expect_locks import raise_for_locks

        raise_for_locks(reply)
    if status == "sandbox-error":
        raise verdicts.SandboxFault(raw.get("message", "the sandbox failed"))
    if "ranks" in raw and status != "timeout":
        bad = next((r for r in raw["ranks"] if r.get("status") != "ok"), None)
        if bad is not None:
            raw = {**raw, **bad, "rank_failed": bad.get("rank")}
    if status == "exception" and (raw.get("exception") or {}).get("type") == "ScheduledDeadlock":
        exc = raw["exception"]
        raise verdicts.Deadlock(
            f"{what} deadlocked: {exc.get('message')}. Each thread waits for something only "
            "another waiting thread could give (a lock it holds, a notify or put it would do), "
            "so none can ever go on. `grader replay` with the same seed replays this exact "
            "interleaving.", stacks=raw.get("stacks", []),
            schedule=(raw.get("checks") or {}).get("schedule"))
    if status in ("exception", "import-error", "missing"):
        exc = raw.get("exception") or {}
        where = student_location(exc.get("frames", []))
        rank = f" (on rank {raw['rank_failed']})" if "rank_failed" in raw else ""
        if status == "import-error":
            msg = f"Your code could not be imported: {exc.get('type')}: {exc.get('message')}{where}"
        elif status == "missing":
            msg = f"{exc.get('message')}: the exercise asks for it (see the statement)."
        else:
            msg = f"{what} raised {exc.get('type')}: {exc.get('message')}{where}{rank}"
        raise verdicts.StudentError(msg, exception=exc, stdout=raw.get("stdout", ""),
                                    stderr=raw.get("stderr", ""))
    if status == "timeout":
        ratio = raw.get("stall_cpu_ratio")
        stacks = raw.get("stacks", [])
        where = stuck_location(stacks)
        secs = waited(raw)
        if ratio is not None and ratio < STALL_DEADLOCK and not raw.get("running_threads"):
            raise verdicts.Deadlock(
                f"{what} was still waiting after {secs} while using no CPU: the threads are blocked "
                f"on each other (a deadlock){where}.", stacks=stacks, stall_cpu_ratio=ratio)
        busy = (f"kept using CPU ({ratio:.1f} CPU-seconds per second)" if ratio and ratio >= STALL_DEADLOCK
                else f"{raw.get('running_threads', 'some')} thread(s) kept running")
        raise verdicts.Timeout(
            f"{what} was still running after {secs} and {busy}: an endless loop or a "
            f"busy-wait{where}.", stacks=stacks, stall_cpu_ratio=ratio)
    if status == "crashed":
        why = raw.get("message", "the process died")
        if raw.get("oom"):
            why = f"it ran out of memory (the limit is {raw.get('limits', {}).get('memory_mb', '?')} MB)"
        raise verdicts.Crashed(f"{what} crashed: {why}.", stdout=raw.get("stdout", ""),
                               stderr=raw.get("stderr", ""))
    raise verdicts.SandboxFault(f"unexpected sandbox reply status {status!r}")


def waited(raw: dict) -> str:
    """How long a stopped run had been going, for messages: '2 s', or '0.3 s' for a deadlock
    proven before a second was out (grader.agent.stuck)."""
    wall = float(raw.get("wall") or 0)
    return f"{wall:.0f} s" if wall >= 1 else f"{wall:.1f} s"


def student_location(frames: list[dict]) -> str:
    """' (solution.py, line 12, in increment: `self.v += k`)' for the innermost student frame."""
    mine = [f for f in frames if f.get("student")]
    if not mine:
        return ""
    f = mine[-1]
    code = f": `{f['code']}`" if f.get("code") else ""
    return f" ({f['file']}, line {f['line']}, in {f['name']}{code})"


def stuck_location(stacks: list[dict]) -> str:
    lines = []
    for proc in stacks:
        for thread in proc.get("threads", []):
            mine = [f for f in thread["frames"] if f.get("student")]
            if mine:
                f = mine[-1]
                lines.append(f"{f['file']} line {f['line']} (`{f['code']}`)")
    if not lines:
        return ""
    unique = list(dict.fromkeys(lines))
    return "; threads were stuck at " + ", ".join(unique[:4])


def describe_call(name: str, args, kwargs) -> str:
    parts = [_short(a) for a in args] + [f"{k}={_short(v)}" for k, v in kwargs.items()]
    return f"{name}({', '.join(parts)})"


def _short(value, limit: int = 40) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def probe_source(probe) -> str:
    if not inspect.isfunction(probe) or probe.__qualname__ != probe.__name__:
        raise TypeError("a probe must be a top-level function of the test file")
    return textwrap.dedent(inspect.getsource(probe))
