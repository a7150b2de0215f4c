"""The messages that cross a process boundary, their statuses, and the framing between the host
and the sandbox.

    host grading process --Job--> judge's pytest run --Request--> sandbox supervisor --> agent
    host grading process <-Report- judge's pytest run <--Reply--- sandbox supervisor <-- AgentResult

Both sides import this module (it needs nothing but the standard library and the sandbox's own
`grader.agent.codec`): the host's backends write requests and read replies; the sandbox's
supervisor server reads requests and writes replies. What the student's side wrote reaches a
`Reply` only through `grader.sandbox.base.parse_reply` (capped, strict: a reply that cannot be
read is a `SANDBOX_ERROR`, an agent result that cannot be read the student's crash). A frame is `MAGIC`, a 4-byte big-endian length and that many bytes of UTF-8
JSON. A reader never trusts a length: a frame over its limit, a wrong magic or a short read is
a `FrameError`, and the connection is given up.
"""

from __future__ import annotations

import json
import socket
import struct
from dataclasses import asdict, dataclass, field, fields
from enum import StrEnum
from pathlib import Path
from typing import Any, TypeVar

from grader.agent import codec, untrusted

MAGIC = b"PGR1"
HEADER = struct.Struct(">4sI")
MAX_REQUEST = 64 * 2**20  # a request carries a probe's source and arguments
MAX_REPLY = 512 * 2**20  # a reply carries the student's values and output, capped before


class Status(StrEnum):
    """What the sandbox says became of a request: the `status` of a reply (and of an agent's
    result, which may only say OK, EXCEPTION, IMPORT_ERROR or MISSING: see AGENT_STATUSES)."""

    OK = "ok"  # the student's function returned a value
    EXCEPTION = "exception"  # it raised
    IMPORT_ERROR = "import-error"  # the student's module could not be imported
    MISSING = "missing"  # the module has no such function
    TIMEOUT = "timeout"  # still running (or stuck) at the time limit
    CRASHED = "crashed"  # the process died, or its result could not be believed
    SANDBOX_ERROR = "sandbox-error"  # the platform failed: never the student's doing


# What an agent may say about its run; anything else (e.g. a forged SANDBOX_ERROR, which would
# blame the platform) makes its result malformed, and so the student's fault.
AGENT_STATUSES = (Status.OK, Status.EXCEPTION, Status.IMPORT_ERROR, Status.MISSING)
STUDENT_RAISED = (Status.EXCEPTION, Status.IMPORT_ERROR, Status.MISSING)


class Outcome(StrEnum):
    """A test's verdict: the `status` of a test record and the `verdict` in results.json."""

    PASSED = "passed"
    FAILED = "failed"  # ran, did the wrong thing
    ERROR = "error"  # the student's code raised or could not be imported
    TIMEOUT = "timeout"  # endless loop or busy-wait
    DEADLOCK = "deadlock"
    RACE = "race"
    CRASHED = "crashed"
    NOT_RUN = "not-run"  # could not run here (no GPU): awards nothing, blames nobody
    GRADER_ERROR = "grader-error"  # the platform failed: not graded, to be retried


# Keys of a reply that more than one side reads (the rest are named where they are written).
STALL_CPU_RATIO = "stall_cpu_ratio"  # CPU seconds per second while a timed-out run was stuck
STALL_DEADLOCK = 0.1  # below this STALL_CPU_RATIO a hang is threads blocked on each other
FINDINGS = "findings"  # what the checks saw as it happened: [{"kind": ..., ...}]


T = TypeVar("T")
D = TypeVar("D")


class FrameError(ConnectionError):
    """The other side broke the framing, or went away in the middle of a frame."""


def encode(message: dict) -> bytes:
    body = json.dumps(message).encode()
    return HEADER.pack(MAGIC, len(body)) + body


def _read_exactly(read, n: int) -> bytes:
    chunks, left = [], n
    while left:
        chunk = read(min(left, 1 << 20))
        if not chunk:
            raise FrameError(f"the connection closed {n - left} bytes into a {n}-byte read")
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def decode_from(read, limit: int) -> bytes | None:
    """The body of the next frame from `read(n)` (None at a clean end of the stream)."""
    first = read(HEADER.size)
    if not first:
        return None
    head = (
        first + _read_exactly(read, HEADER.size - len(first)) if len(first) < HEADER.size else first
    )
    magic, size = HEADER.unpack(head)
    if magic != MAGIC:
        raise FrameError(f"not a frame (starts with {magic!r})")
    if size > limit:
        raise FrameError(f"a frame of {size} bytes is over the limit of {limit}")
    return _read_exactly(read, size)


def send(sock: socket.socket, message: dict) -> None:
    sock.sendall(encode(message))


def receive(sock: socket.socket, limit: int) -> bytes | None:
    """The next frame's body from a socket (None if the other side closed it cleanly)."""
    return decode_from(sock.recv, limit)


# ---------------------------------------------------------------- messages


REQUEST_DEPTH = 220  # a request's arguments nest as deep as a reply's values (see base.py)


def _deeper_than(data: object, limit: int) -> bool:
    """Whether decoded JSON nests more than `limit` containers deep (a walk, not recursion)."""
    todo = [(data, 1)]
    while todo:
        item, depth = todo.pop()
        if isinstance(item, dict | list):
            if depth > limit:
                return True
            todo.extend((v, depth + 1) for v in (item.values() if isinstance(item, dict) else item))
    return False


def _user(v: object) -> bool:
    return type(v) is dict and set(v) == {"uid", "gid"} and all(type(x) is int for x in v.values())


def _number(v: object) -> bool:
    return type(v) in (int, float)


# The shape of a request: field -> what it must be (see `Request.parse`).
REQUEST_SHAPE = {
    "kind": lambda v: v in ("call", "run"),
    "module": lambda v: type(v) is str,
    "args": lambda v: True,  # codec-encoded: decoded (and checked) by the agent
    "kwargs": lambda v: True,
    "timeout": _number,
    "limits": lambda v: v is None or (type(v) is dict and all(_number(x) for x in v.values())),
    "function": lambda v: v is None or type(v) is str,
    "probe": lambda v: (
        v is None
        or (
            type(v) is dict
            and set(v) == {"source", "name"}
            and all(type(x) is str for x in v.values())
        )
    ),
    "checks": lambda v: (
        v is None or (type(v) is dict and all(x is None or type(x) is dict for x in v.values()))
    ),
    "ranks": lambda v: type(v) is int and v >= 0,
    "mpi": lambda v: v is None or type(v) is dict,
    "start_method": lambda v: v is None or type(v) is str,
    "exclusive_cores": lambda v: type(v) is int and v >= 0,
    "agent_user": lambda v: v is None or _user(v),
    "rlimit_memory": lambda v: type(v) is bool,
    "rlimit_pids": lambda v: type(v) is bool,
    "cpus": lambda v: v is None or (type(v) is list and all(type(c) is int for c in v)),
    "workroot": lambda v: v is None or type(v) is str,
    "prove_deadlock": lambda v: type(v) is bool,
}


@dataclass
class Call:
    """What a request does in the student's process: call `function` (kind "call") or run
    `probe` (kind "run", `{"source", "name"}`) of the student's `module`, with codec-encoded
    `args` and `kwargs`, the `checks` to start, MPI's `ranks` and `mpi` options and
    multiprocessing's `start_method`. A `Request` and an `AgentRequest` are each one."""

    kind: str
    module: str
    args: Any = field(default_factory=list)
    kwargs: Any = field(default_factory=lambda: {"__dict__": []})  # codec's empty dict
    function: str | None = None
    probe: dict | None = None
    checks: dict = field(default_factory=dict)
    ranks: int = 0
    mpi: dict = field(default_factory=dict)
    start_method: str | None = None


@dataclass
class Request(Call):
    """One request to the sandbox: a `Call`, its `timeout` and `limits`.

    The judge fills the first part; the backend adds how the agent is started (`agent_user`:
    the student's {"uid", "gid"}; rlimits; the local backend's `cpus` and `workroot`) on the
    wire. The supervisor reads a request only through `parse`."""

    timeout: float = 10.0
    limits: dict = field(default_factory=dict)
    exclusive_cores: int = 0
    # set by the backend
    agent_user: dict | None = None
    rlimit_memory: bool = False
    rlimit_pids: bool = False
    cpus: list[int] | None = None
    workroot: str | None = None
    prove_deadlock: bool = True  # False: a hang is waited out (tests compare both ways)

    def to_wire(self) -> dict:
        """The request as the supervisor reads it (`function` or `probe`, never both; the
        backend's fields only where set)."""
        wire = asdict(self)
        for key in ("function", "probe", "agent_user", "cpus", "workroot"):
            if wire[key] is None:
                del wire[key]
        for key in ("rlimit_memory", "rlimit_pids", "prove_deadlock"):
            if wire[key] == REQUEST_DEFAULTS[key]:
                del wire[key]
        return wire

    @classmethod
    def parse(cls, body: bytes) -> Request:
        """The request in a frame's body; `MalformedMessage` naming what is wrong when it is not
        one a backend writes (too big, too deep, not JSON, a field unknown, missing or of the
        wrong type). The host writes requests, but the parser fails cleanly all the same."""
        request = _parse_call(cls, body, "request", REQUEST_SHAPE)
        request.timeout = float(request.timeout)
        request.limits = request.limits or {}
        return request


REQUEST_DEFAULTS = {f.name: f.default for f in fields(Request)}


@dataclass(frozen=True)
class SpawnOrder:
    """The supervisor's order to its warm template (`grader.agent.spawn`): fork an agent for
    `request`, in folder `cwd`, with environment `env` and its output appended to the files
    `stdout` and `stderr`. Both ends are the sandbox's root processes over a private socket
    pair; nothing of the student's reaches it but what the request already carries."""

    request: Request
    cwd: str
    env: dict[str, str]
    stdout: str
    stderr: str

    def to_wire(self) -> dict:
        return {**asdict(self), "request": self.request.to_wire()}

    @classmethod
    def from_wire(cls, wire: dict) -> SpawnOrder:
        return cls(**{**wire, "request": Request(**wire["request"])})


def _parse_call(cls: type[T], body: bytes, name: str, shape: dict) -> T:
    """A `Request` or an `AgentRequest` from JSON `body`, capped (size, depth), each field of
    `shape` checked, and a call naming its function, a run its probe."""
    if len(body) > MAX_REQUEST:
        raise MalformedMessage(f"a {name} of {len(body)} bytes is over {MAX_REQUEST}")
    try:
        data = json.loads(body)
    except (ValueError, RecursionError) as exc:
        raise MalformedMessage(f"the {name} is not JSON ({str(exc)[:200]})") from None
    if _deeper_than(data, REQUEST_DEPTH):
        raise MalformedMessage(f"the {name} nests deeper than {REQUEST_DEPTH} levels")
    message = _typed(cls, data, name)
    for key, ok in shape.items():
        if not ok(getattr(message, key)):
            raise MalformedMessage(f"the {name}'s {key} is not what the grader sends")
    call: Any = message
    if (call.kind == "call") != (call.function is not None) or (call.kind == "run") != (
        call.probe is not None
    ):
        raise MalformedMessage(
            "a call names its function and no probe, a run its probe and no function (not both)"
        )
    call.checks, call.mpi = call.checks or {}, call.mpi or {}
    return message


ITEMS_KEY_HEX = 64  # grader.checks.workitems: a 32-byte key


def _hex_key(v: object) -> bool:
    return type(v) is str and len(v) == ITEMS_KEY_HEX and all(c in "0123456789abcdef" for c in v)


AGENT_REQUEST_SHAPE = {
    **{f.name: REQUEST_SHAPE[f.name] for f in fields(Call)},
    "outdir": lambda v: type(v) is str and v.startswith("/"),
    "rundir": lambda v: type(v) is str and v.startswith("/"),
    "items_key": _hex_key,
}


@dataclass
class AgentRequest(Call):
    """What the supervisor hands each agent of a request over its private line
    (`grader.agent.channel`, never a file, an argument or the environment): the `Call` of a
    `Request`, where the agent leaves its files (`outdir`: stacks, findings,
    work items; `rundir`: the evidence line's socket) and `items_key`, the hex key that seals
    work items (the agent forgets it once armed). Parsed by the agent with `parse`, capped like
    a `Request`."""

    outdir: str = field(kw_only=True)
    rundir: str = field(kw_only=True)
    items_key: str = field(kw_only=True)

    @classmethod
    def of(cls, request: Request, rundir: str, outdir: str, items_key: bytes) -> AgentRequest:
        return cls(
            **{f.name: getattr(request, f.name) for f in fields(Call)},
            outdir=outdir,
            rundir=rundir,
            items_key=items_key.hex(),
        )

    def encode(self) -> bytes:
        """The request as the line carries it (JSON; `function` or `probe`, never both)."""
        wire = {f.name: getattr(self, f.name) for f in fields(self)}
        for key in ("function", "probe", "start_method"):
            if wire[key] is None:
                del wire[key]
        return json.dumps(wire).encode()

    @classmethod
    def parse(cls, body: bytes) -> AgentRequest:
        """The request in the line's frame; `MalformedMessage` naming what is wrong when it is
        not one the supervisor writes."""
        return _parse_call(cls, body, "agent request", AGENT_REQUEST_SHAPE)


def _of(value: object, kind: type[T], default: D) -> T | D:
    """`value` if it is a `kind` (never a bool for a number), else `default`."""
    if isinstance(value, kind) and not (isinstance(value, bool) and kind is not bool):
        return value
    return default


def _dicts(value: object) -> list[dict]:
    """The objects of a list (anything else left out); [] for anything but a list."""
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


@dataclass
class Reply:
    """The supervisor's reply to one request, as a test sees it: `raw`, the reply already
    cleaned by `grader.sandbox.base.parse_reply` (the wire form, for logs and evidence), and
    `what`, how messages name the call. Judge code reads the typed properties below, never
    `raw`: each says what the reply holds, and gives its default when the reply does not say
    (or says it in a shape no supervisor writes). Under MPI each rank's result is a `Reply` of
    its own (`ranks`), with the same properties."""

    raw: dict
    what: str

    @property
    def status(self) -> Status:
        """The reply's status; one no supervisor sends is the platform's failure."""
        try:
            return Status(self.raw.get("status", Status.SANDBOX_ERROR))
        except ValueError:
            return Status.SANDBOX_ERROR

    @property
    def sent_status(self) -> object:
        """The status exactly as sent (None when none was), for a message naming a bad one."""
        return self.raw.get("status")

    @property
    def value(self) -> Any:
        return codec.decode(self.raw.get("value"))

    @property
    def cpu(self) -> float:
        return float(self.raw.get("cpu", 0.0))

    @property
    def wall(self) -> float:
        return float(self.raw.get("wall", 0.0))

    @property
    def span(self) -> float:
        """The most CPU seconds any one process used (work / span: the processes really busy)."""
        return float(self.raw.get("span", 0.0))

    @property
    def processes(self) -> int:
        """How many processes the run had, the caller's own included (0: not said)."""
        return int(self.raw.get("processes", 0))

    @property
    def waited(self) -> str:
        """How long a stopped run had been going, for messages: '2 s', or '0.3 s' for a deadlock
        proven before a second was out (grader.agent.stuck)."""
        wall = float(self.raw.get("wall") or 0)
        return f"{wall:.0f} s" if wall >= 1 else f"{wall:.1f} s"

    @property
    def starved(self) -> float:
        """Seconds the run's threads waited for a CPU after its deadline first came, given back
        as time on top of the timeout (grader.agent.starved); 0.0 when none was."""
        v = self.raw.get("starved")
        return float(v) if isinstance(v, int | float) and type(v) is not bool and v > 0 else 0.0

    @property
    def message(self) -> str | None:
        """Why the run failed, in the sandbox's words (None when it does not say)."""
        return _of(self.raw.get("message"), str, None)

    @property
    def stdout(self) -> str:
        return _of(self.raw.get("stdout"), str, "")

    @property
    def stderr(self) -> str:
        return _of(self.raw.get("stderr"), str, "")

    @property
    def rank(self) -> int | None:
        """The MPI rank whose result this is (a rank's `Reply` under `ranks`), else None."""
        return _of(self.raw.get("rank"), int, None)

    @property
    def ranks(self) -> list[Reply] | None:
        """Each MPI rank's result, ordered by rank (None: the run was not under MPI)."""
        if "ranks" not in self.raw:
            return None
        return [Reply(r, self.what) for r in _dicts(self.raw["ranks"])]

    @property
    def exception(self) -> dict | None:
        """What the student's code raised: {"type", "message", "frames"}."""
        return _of(self.raw.get("exception"), dict, None)

    @property
    def stacks(self) -> list[dict]:
        """Every thread's stack of each process, taken before a hung run was killed."""
        return _dicts(self.raw.get("stacks"))

    @property
    def stall_cpu_ratio(self) -> float | None:
        """CPU seconds per second while a timed-out run was stuck (None: not measured)."""
        ratio = self.raw.get(STALL_CPU_RATIO)
        return float(ratio) if isinstance(ratio, int | float) and type(ratio) is not bool else None

    @property
    def running_threads(self) -> int | None:
        """Threads still runnable when a timed-out run was looked at (None: not looked at)."""
        return _of(self.raw.get("running_threads"), int, None)

    @property
    def deadlock_proof(self) -> dict | None:
        """The kernel's (or a check's) word that the run was stuck for good (grader.agent.stuck)."""
        return _of(self.raw.get("deadlock_proof"), dict, None)

    @property
    def findings(self) -> list[dict]:
        """What the checks saw as it happened: [{"kind": ..., ...}], also from a run that hung."""
        return _dicts(self.raw.get(FINDINGS))

    def findings_of(self, kind: str) -> list[dict]:
        return [f for f in self.findings if f.get("kind") == kind]

    @property
    def work_items(self) -> dict:
        """The work items the probe's workers recorded (grader.checks.workitems)."""
        return _of(self.raw.get("work_items"), dict, {})

    @property
    def leftover_threads(self) -> list[dict] | None:
        """Threads still alive when the student's function returned ({"name", "daemon"})."""
        return _dicts(self.raw["leftover_threads"]) if "leftover_threads" in self.raw else None

    @property
    def leftover_processes(self) -> list[str] | None:
        """The command lines of processes still alive after the run (None: none were seen)."""
        left = self.raw.get("leftover_processes")
        return [p for p in left if isinstance(p, str)] if isinstance(left, list) else None

    @property
    def leaked_shared_memory(self) -> list[dict] | None:
        """POSIX shared memory created and never unlinked ({"name", "bytes"})."""
        return (
            _dicts(self.raw["leaked_shared_memory"]) if "leaked_shared_memory" in self.raw else None
        )

    @property
    def oom(self) -> bool:
        """Whether the sandbox's memory limit killed the run."""
        return self.raw.get("oom") is True

    @property
    def memory_limit_mb(self) -> int | None:
        """The memory limit the run had, said with an `oom` reply."""
        return _of(_of(self.raw.get("limits"), dict, {}).get("memory_mb"), int, None)

    @property
    def tampering(self) -> list[dict]:
        """What the audit hook refused the student's code, or why its report was not believed."""
        found = _dicts(self.raw.get("tampering"))
        for rank in self.ranks or []:
            found += rank.tampering
        return found

    @property
    def own_checks(self) -> dict:
        """This process's check reports (check name -> report; a rank's own under MPI)."""
        return _of(self.raw.get("checks"), dict, {})

    @property
    def checks(self) -> dict:
        """Check reports: of the single process, or merged per rank under MPI."""
        if "ranks" in self.raw:
            return {r.get("rank", i): r.get("checks", {}) for i, r in enumerate(self.raw["ranks"])}
        return self.raw.get("checks", {})

    def blamed_rank(self) -> Reply | None:
        """Under MPI, the first rank whose status is not OK, seen as the whole reply with that
        rank's result over it (its exception, checks, message...); None if there is none."""
        bad = next((r for r in self.ranks or [] if r.status != Status.OK), None)
        return None if bad is None else Reply({**self.raw, **bad.raw}, self.what)


# The shape of an agent's result: field -> what it must be. The agent runs in the student's
# process, so a signed result is still checked before any field is used (by the supervisor).
def _list_of_dicts(v) -> bool:
    return type(v) is list and all(type(x) is dict for x in v)


AGENT_RESULT_SHAPE = {
    "status": lambda v: v in AGENT_STATUSES + (Status.CRASHED,),
    "rank": lambda v: v is None or type(v) is int,
    "exception": lambda v: (
        type(v) is dict
        and all(type(v.get(k, "")) is str for k in ("type", "message"))
        and _list_of_dicts(v.get("frames", []))
    ),
    "checks": lambda v: (
        v is None or (type(v) is dict and all(x is None or type(x) is dict for x in v.values()))
    ),
    "leftover_threads": lambda v: (
        _list_of_dicts(v)
        and all(type(t.get("name")) is str and type(t.get("daemon")) is bool for t in v)
    ),
    "leaked_shared_memory": _list_of_dicts,
    "agent_wall": lambda v: type(v) in (int, float),
    "message": lambda v: type(v) is str,
    "evidence_lost": lambda v: v is True,
}
AGENT_RESULT_FIELDS = set(AGENT_RESULT_SHAPE) | {"value"}


def agent_result_problem(result) -> str:
    """What is wrong with an agent result's shape ('' if nothing): a malformed one is the
    student's crash."""
    if type(result) is not dict:
        return "not an object"
    if "status" not in result:
        return "no status"
    unknown = sorted(set(result) - AGENT_RESULT_FIELDS)
    if unknown:
        return f"it has fields the agent never sends ({', '.join(unknown)[:200]})"
    for key, ok in AGENT_RESULT_SHAPE.items():
        if key in result and not ok(result[key]):
            return f"its {key} is not what the agent sends"
    return ""


class MalformedMessage(ValueError):
    """A message that is not what its sender writes. Whose fault that is depends on the sender:
    an agent's result is the student's crash; a job or a report (written by the host's judge,
    never holding anything unchecked from the student's side) is the platform's failure."""


def _typed(cls, data, name: str):
    """`cls(**data)`, refusing anything but a JSON object with exactly `cls`'s field names."""
    if type(data) is not dict:
        raise MalformedMessage(f"a {name} must be a JSON object")
    known = {f.name for f in fields(cls)}
    unknown = set(data) - known
    if unknown:
        raise MalformedMessage(f"a {name} has unknown fields: {', '.join(sorted(unknown))}")
    try:
        return cls(**data)
    except TypeError as exc:  # a required field missing
        raise MalformedMessage(f"a {name} is incomplete: {exc}") from None


@dataclass
class AgentResult:
    """One agent's report of its run, parsed by the supervisor from the student's process
    (`parse`: strictly; anything else is the student's crash), or the supervisor's own word for
    a run whose report it could not believe (`crashed`)."""

    status: Status
    rank: int | None = None
    value: Any = None  # codec-encoded; only with OK
    exception: dict | None = None  # {"type", "message", "frames"}
    checks: dict | None = None  # check name -> its report
    leftover_threads: list[dict] | None = None
    leaked_shared_memory: list[dict] | None = None
    agent_wall: float | None = None
    message: str | None = None
    evidence_lost: bool | None = None  # its evidence line was closed or replaced by the student
    tampered: bool | None = None  # set by the supervisor: the report was not believed

    @classmethod
    def parse(cls, data) -> AgentResult:
        """The result an agent sent (already JSON-decoded and cleaned); `MalformedMessage`
        naming what is wrong when it is not what the agent sends."""
        problem = agent_result_problem(data)
        if problem:
            raise MalformedMessage(problem)
        return cls(**{**data, "status": Status(data["status"])})

    @classmethod
    def crashed(cls, message: str, tampered: bool = False) -> AgentResult:
        return cls(Status.CRASHED, message=message, tampered=tampered or None)

    def to_wire(self) -> dict:
        """The result as the reply carries it: the fields given (`rank` always, `value` with OK)."""
        wire = {k: v for k, v in asdict(self).items() if v is not None or k == "rank"}
        if self.status == Status.OK:
            wire["value"] = self.value
        return wire


EVIDENCE_FIELDS = {"event": 100, "what": 600, "detail": 300, "file": 300, "function": 100}


@dataclass
class Evidence:
    """One piece of evidence of tampering, as a reply's `tampering` carries it: what the agent's
    audit hook refused the student's code (sent to the supervisor the moment it happens, over
    the agent's evidence line: `grader.agent.evidence`), or what the supervisor saw of the
    student's doing (a report not believed, a line closed, flooded or written into). Everything
    on the evidence line is the student's process's word: `parse` is strict (only these fields,
    strings cut to `EVIDENCE_FIELDS`, `line` an int), and a record that is not one is itself
    evidence, never an error."""

    event: str
    what: str
    detail: str | None = None
    file: str | None = None
    line: int | None = None
    function: str | None = None

    @classmethod
    def parse(cls, data) -> Evidence:
        """An evidence record (already JSON-decoded); `MalformedMessage` when it is not one."""
        record = _typed(cls, data, "piece of evidence")
        for name, limit in EVIDENCE_FIELDS.items():
            value = getattr(record, name)
            if value is None and name not in ("event", "what"):
                continue
            if type(value) is not str:
                raise MalformedMessage(f"its {name} is not a string")
            setattr(record, name, untrusted.clean_str(value, limit))
        if record.line is not None and not (
            type(record.line) is int and 0 <= record.line < 1 << 31
        ):
            raise MalformedMessage("its line is not a line number")
        return record

    def to_wire(self) -> dict:
        return {k: v for k, v in asdict(self).items() if v is not None}


@dataclass
class Job:
    """What the grading process hands a test run (`grader.judge.runner` to `grader.judge.plugin`):
    the prepared submission, the student's module, the backend and its limits, the base seed,
    where to write the `Report`, the tests to run (`only`), whether the exercise needs a GPU and
    the container started ahead of time (`box`)."""

    submission: str
    module: str
    backend: str
    limits: dict
    seed: int
    report: str
    only: list[str] | None = None
    gpu: bool = False
    box: dict | None = None

    def write(self, path: Path) -> None:
        path.write_text(json.dumps(asdict(self)))

    @classmethod
    def read(cls, path: Path) -> Job:
        return _typed(cls, json.loads(Path(path).read_text()), "job")


@dataclass
class TestRecord:
    """One test's outcome, as the judge's plugin records it: `status` is an `Outcome`, `message`
    the student-facing words, `details` the (capped) evidence."""

    nodeid: str
    function: str
    name: str
    visibility: str  # public or hidden
    status: Outcome
    message: str
    details: dict
    duration: float
    seed: int | None
    requirements: list[str] = field(default_factory=list)
    __test__ = False  # not a pytest test class

    def __post_init__(self):
        self.status = Outcome(self.status)


@dataclass
class Report:
    """What one test run wrote for the grading process (`grader.judge.plugin` to
    `grader.judge.runner`): a record per test, the test files that could not be loaded, the
    tests collected, the plugin's own failures, the evidence of tampering and pytest's exit."""

    tests: list[TestRecord]
    broken_test_files: list[dict] = field(default_factory=list)
    collected: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    tampering: list[dict] = field(default_factory=list)
    exitstatus: int = 0

    def write(self, path: Path) -> None:
        path.write_text(json.dumps(asdict(self), indent=1))

    @classmethod
    def read(cls, path: Path) -> Report:
        """The report at `path`; `MalformedMessage` when it is not one (or not whole)."""
        try:
            data = json.loads(Path(path).read_text())
        except (ValueError, RecursionError) as exc:
            raise MalformedMessage(f"the report is not JSON ({exc})") from None
        report = _typed(cls, data, "report")
        if type(report.tests) is not list:
            raise MalformedMessage("a report's tests must be a list")
        try:
            report.tests = [_typed(TestRecord, t, "test record") for t in report.tests]
        except ValueError as exc:  # an Outcome no plugin writes
            raise MalformedMessage(f"a test record is malformed ({exc})") from None
        return report
