"""The typed protocol (`grader/protocol.py`): statuses, messages and their strict parsing, and
the one place a reply becomes a verdict (`grader/judge/verdicts/reply.py`)."""

from __future__ import annotations

import json

import pytest

from grader.agent.supervisor import _read_result
from grader.judge.verdicts import Crashed, Deadlock, SandboxFault, StudentError, Timeout
from grader.judge.verdicts.record import earns_points
from grader.judge.verdicts.reply import verdict_for
from grader.protocol import (
    AgentRequest,
    AgentResult,
    Job,
    MalformedMessage,
    Outcome,
    Reply,
    Request,
    SpawnOrder,
    Status,
    agent_result_problem,
)

GOOD_RESULT = {
    "status": "ok",
    "rank": None,
    "value": 3,
    "agent_wall": 0.1,
    "checks": {},
    "leftover_threads": [{"name": "MainThread", "daemon": False}],
}


def test_statuses_are_their_words_in_json():
    assert (
        json.dumps({"s": Status.SANDBOX_ERROR, "o": Outcome.NOT_RUN})
        == '{"s": "sandbox-error", "o": "not-run"}'
    )
    assert (
        Status("import-error") is Status.IMPORT_ERROR
        and Outcome("grader-error") is Outcome.GRADER_ERROR
    )
    assert {Outcome.PASSED: 1}["passed"] == 1  # a plain string finds an enum key and back


def test_an_agent_result_round_trips_and_is_parsed_strictly():
    parsed = AgentResult.parse(GOOD_RESULT)
    assert parsed.status is Status.OK and parsed.to_wire() == GOOD_RESULT
    none_value = AgentResult.parse({"status": "ok", "rank": 2, "value": None})
    assert none_value.to_wire() == {"status": "ok", "rank": 2, "value": None}  # None is a value
    bad = [
        [],  # not an object
        {"rank": 0},  # no status
        {**GOOD_RESULT, "status": "sandbox-error"},  # blaming the platform
        {**GOOD_RESULT, "status": "passed"},
        {**GOOD_RESULT, "rank": "0"},
        {**GOOD_RESULT, "tampered": False},  # the supervisor's word, never the agent's
        {**GOOD_RESULT, "stderr": "Traceback (most recent call last):"},  # unknown field
        {**GOOD_RESULT, "exception": {"type": 1, "message": "x"}},
        {**GOOD_RESULT, "leftover_threads": [{"name": "t", "daemon": "no"}]},
        {**GOOD_RESULT, "agent_wall": "fast"},
    ]
    for data in bad:
        assert agent_result_problem(data)
        with pytest.raises(MalformedMessage):
            AgentResult.parse(data)


def test_an_unreadable_or_malformed_result_line_is_the_students_crash():
    assert _read_result(json.dumps(GOOD_RESULT).encode()).to_wire() == GOOD_RESULT
    for line in (
        b"{",
        b"[" * 100_000 + b"]" * 100_000,
        json.dumps({"status": "sandbox-error"}).encode(),
        b'"\\ud800"',
        json.dumps({**GOOD_RESULT, "extra": 1}).encode(),
    ):
        result = _read_result(line)
        assert result.status is Status.CRASHED, line[:40]
        assert "could not be read" in result.message or "malformed" in result.message


def test_a_request_on_the_wire_names_function_or_probe():
    call = Request(
        kind="call",
        module="solution",
        args=[],
        kwargs={"__dict__": []},
        timeout=5.0,
        limits={},
        function="f",
    )
    wire = call.to_wire()
    assert wire["function"] == "f" and "probe" not in wire and wire["ranks"] == 0
    run = Request(
        kind="run",
        module="solution",
        args=[],
        kwargs={},
        timeout=5.0,
        limits={},
        probe={"source": "def p(m): pass", "name": "p"},
    )
    assert "function" not in run.to_wire() and run.to_wire()["probe"]["name"] == "p"


def test_a_request_is_parsed_strictly_at_the_supervisor():
    """The supervisor reads a request only through `Request.parse`: what a backend writes comes
    back as the judge wrote it (with the backend's fields), and anything else -- too big, too
    deep, not JSON, a field unknown, missing or of the wrong type -- is a `MalformedMessage`
    naming the fault, never a crash of the server."""
    judge = Request(kind="call", module="solution", function="f", args=[1], timeout=5, limits={})
    wire = {**judge.to_wire(), "agent_user": {"uid": 1000, "gid": 1000}, "rlimit_pids": True}
    parsed = Request.parse(json.dumps(wire).encode())
    assert parsed.function == "f" and parsed.timeout == 5.0 and type(parsed.timeout) is float
    assert parsed.agent_user == {"uid": 1000, "gid": 1000} and parsed.rlimit_pids
    assert not parsed.rlimit_memory and parsed.prove_deadlock and parsed.cpus is None
    assert parsed.to_wire() == wire
    # what the tests' hand-written requests leave out has the agent's own defaults
    bare = Request.parse(b'{"kind": "call", "module": "m", "function": "f"}')
    assert (bare.args, bare.kwargs, bare.limits, bare.timeout) == ([], {"__dict__": []}, {}, 10.0)
    deep = "[" * 300 + "]" * 300
    call = {"kind": "call", "module": "m", "function": "f"}
    bad = {
        b"[1, 2]": "JSON object",
        b"{nope": "not JSON",
        b"[" * 100_000 + b"]" * 100_000: "not JSON",
        json.dumps(dict(call, args=deep)).replace('"' + deep + '"', deep).encode(): "deeper",
        b'{"kind": "call", "module": "m", "function": "f", "shell": "rm"}': "unknown fields: shell",
        b'{"kind": "call", "function": "f"}': "incomplete",
        b'{"kind": "exec", "module": "m", "function": "f"}': "kind",
        b'{"kind": "call", "module": "m", "function": "f", "timeout": "5"}': "timeout",
        b'{"kind": "call", "module": "m", "function": "f", "ranks": -1}': "ranks",
        b'{"kind": "call", "module": "m", "function": "f", "agent_user": {"uid": 0}}': "agent_user",
        b'{"kind": "call", "module": "m", "function": "f", "cpus": ["0"]}': "cpus",
        b'{"kind": "call", "module": "m"}': "not both",
        b'{"kind": "run", "module": "m", "function": "f"}': "not both",
    }
    for body, why in bad.items():
        with pytest.raises(MalformedMessage, match=why):
            Request.parse(body)
    big = b'{"kind": "call", "module": "' + b"m" * (64 * 2**20) + b'"}'
    with pytest.raises(MalformedMessage, match="over"):
        Request.parse(big)


def test_the_agents_request_is_typed_and_parsed_strictly():
    """What the supervisor hands an agent is an `AgentRequest`: the call and checks of the
    `Request` (nothing of the supervisor's: limits, uid, timeout), where to leave files and the
    work-item key; the agent parses it capped and strict, like a `Request`."""
    judge = Request(
        kind="run",
        module="solution",
        probe={"source": "def p(m): pass", "name": "p"},
        args=[1],
        checks={"lockset": {}},
        start_method="spawn",
        timeout=3,
        limits={"memory_mb": 256},
        agent_user={"uid": 1000, "gid": 1000},
    )
    agent = AgentRequest.of(judge, "/work/run-1", "/work/run-1/out", bytes(range(32)))
    assert agent.items_key == bytes(range(32)).hex() and agent.checks == {"lockset": {}}
    body = agent.encode()
    assert b"limits" not in body and b"agent_user" not in body and b"timeout" not in body
    assert b"function" not in body  # a run names its probe only
    assert AgentRequest.parse(body) == agent
    wire = json.loads(body)
    bad = {
        "items_key": ("ab" * 31, "items_key"),
        "outdir": ("out", "outdir"),
        "rundir": (None, "rundir"),
        "ranks": (True, "ranks"),
        "checks": ([], "checks"),
        "start_method": (3, "start_method"),
        "kind": ("exec", "kind"),
        "function": ("f", "not both"),
        "limits": ({}, "unknown fields: limits"),
    }
    for key, (value, why) in bad.items():
        with pytest.raises(MalformedMessage, match=why):
            AgentRequest.parse(json.dumps({**wire, key: value}).encode())
    with pytest.raises(MalformedMessage, match="incomplete"):
        AgentRequest.parse(json.dumps({k: v for k, v in wire.items() if k != "outdir"}).encode())
    deep = "[" * 300 + "]" * 300
    with pytest.raises(MalformedMessage, match="deeper"):
        AgentRequest.parse(json.dumps({**wire, "args": "DEEP"}).replace('"DEEP"', deep).encode())
    with pytest.raises(MalformedMessage, match="over"):
        AgentRequest.parse(b" " * (64 * 2**20 + 1))


def test_the_supervisor_server_answers_a_bad_request_with_a_sandbox_error(tmp_path):
    from grader.agent.server import handle

    reply = handle(b'{"kind": "call", "module": "m", "function": "f", "x": 1}', "", str(tmp_path))
    assert reply["status"] == Status.SANDBOX_ERROR and "unknown fields: x" in reply["message"]
    assert handle(b"\xff", "", str(tmp_path))["status"] == Status.SANDBOX_ERROR


def test_a_job_round_trips_and_refuses_what_no_runner_writes(tmp_path):
    path = tmp_path / "job.json"
    job = Job(
        submission="/s",
        module="solution",
        backend="local",
        limits={"wall_seconds": 5},
        seed=1,
        report="/r",
        only=["test_a"],
        gpu=False,
        box=None,
    )
    job.write(path)
    assert Job.read(path) == job
    for data in ({**json.loads(path.read_text()), "extra": 1}, {"module": "solution"}, [1]):
        path.write_text(json.dumps(data))
        with pytest.raises(MalformedMessage):
            Job.read(path)


# ---------------------------------------------------------------- a reply becomes a verdict


def _verdict(raw: dict, what: str = "f()"):
    return verdict_for(Reply(raw, what))


def test_each_reply_status_has_its_verdict():
    assert _verdict({"status": "ok", "value": 1}) is None
    assert isinstance(
        _verdict({"status": "exception", "exception": {"type": "ValueError", "message": "no"}}),
        StudentError,
    )
    assert "could not be imported" in _verdict({"status": "import-error", "exception": {}}).message
    assert isinstance(
        _verdict({"status": "missing", "exception": {"message": "no f"}}), StudentError
    )
    assert isinstance(_verdict({"status": "timeout", "stall_cpu_ratio": 0.0, "wall": 2}), Deadlock)
    busy = _verdict({"status": "timeout", "stall_cpu_ratio": 0.9, "wall": 2})
    assert isinstance(busy, Timeout) and "0.9 CPU-seconds per second" in busy.message
    assert isinstance(_verdict({"status": "crashed", "message": "killed"}), Crashed)
    fault = _verdict({"status": "sandbox-error", "message": "engine gone"})
    assert isinstance(fault, SandboxFault) and str(fault) == "engine gone"


def test_an_exception_without_a_message_is_named_alone():
    """`raise NotImplementedError` (the skeleton's) reads "raised NotImplementedError", not
    "raised NotImplementedError: " followed by nothing."""
    bare = {"type": "NotImplementedError", "message": ""}
    said = _verdict({"status": "exception", "exception": bare}).message
    assert said.startswith("f() raised NotImplementedError") and ": " not in said, said
    said = _verdict({"status": "import-error", "exception": bare}).message
    assert said == "Your code could not be imported: NotImplementedError", said
    said = _verdict({"status": "exception", "exception": {"type": "ValueError", "message": "no"}})
    assert said.message.startswith("f() raised ValueError: no"), said.message


def test_a_status_no_supervisor_sends_is_the_platforms_failure():
    fault = _verdict({"status": "excellent"})
    assert isinstance(fault, SandboxFault) and "unexpected sandbox reply status 'excellent'" in str(
        fault
    )
    assert Reply({"status": "excellent"}, "f()").status is Status.SANDBOX_ERROR
    assert isinstance(_verdict({}), SandboxFault)


def test_a_hang_the_lockorder_check_saw_coming_is_explained():
    raw = {
        "status": "timeout",
        "stall_cpu_ratio": 0.0,
        "wall": 3,
        "findings": [
            {
                "kind": "self-deadlock",
                "thread": "T1",
                "lock": "lock A",
                "first": {"file": "solution.py", "line": 4},
                "second": {"file": "solution.py", "line": 9},
            }
        ],
    }
    verdict = _verdict(raw)
    assert isinstance(verdict, Deadlock) and "asks for it again" in verdict.message
    assert verdict.details["self_deadlocks"]
    plain = verdict_for(Reply(raw, "f()"), explain=False)
    assert isinstance(plain, Deadlock) and "asks for it again" not in plain.message


def test_only_a_pass_earns_points():
    assert [o for o in Outcome if earns_points(o)] == [Outcome.PASSED]


def test_judge_code_reads_a_reply_through_its_typed_properties():
    """The judge's helpers, the verdicts and the exercises' tests read a `Reply` through its
    properties, never through `.raw` (the wire form): a key read there would have no type."""
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    files = [
        *(root / "grader" / "judge").rglob("*.py"),
        root / "grader" / "testing.py",
        *(root / "exercises").rglob("*.py"),
    ]
    readers = [
        f"{path.relative_to(root)}:{n}"
        for path in files
        for n, line in enumerate(path.read_text().splitlines(), start=1)
        if re.search(r"\.raw\b(?!\.read)", line)
    ]
    assert readers == [], readers


def test_a_spawn_order_crosses_the_template_socket_unchanged():
    """The supervisor's order to its warm template is a typed message both ways."""
    request = Request(kind="call", module="solution", function="run", timeout=3.0, cpus=[1])
    order = SpawnOrder(request, "/run/work", {"HOME": "/run/work"}, "/run/out/o", "/run/out/e")
    wire = json.loads(json.dumps(order.to_wire()))
    assert wire["request"] == request.to_wire()
    assert SpawnOrder.from_wire(wire) == order
