"""The evidence line (`grader.agent.evidence`): what the audit hook refused reaches the
supervisor as it happens, whatever the student's code does to the line afterwards.

- a record sent is the supervisor's at once: closing, replacing or flooding the line later
  takes nothing back; a replaced descriptor is noticed, the line connected again and the loss
  said; where no line can be had, the signed result says so;
- whatever the student writes into the line (garbage, deep nesting, overlong lines, floods,
  foreign connections) is read with caps, never raises, and is evidence against its writer;
- end to end on the local backend: a refused frame is in the reply, whatever the student's
  code then tries on its output folder (tests/attacks/ holds the Docker variants).
"""

from __future__ import annotations

import json
import os
import socket
import time

import pytest

from conftest import local_session
from grader.agent import audit, codec, evidence
from grader.protocol import Evidence, MalformedMessage


@pytest.fixture
def collector(tmp_path):
    c = evidence.Collector(str(tmp_path), is_ours=lambda pid: pid == os.getpid())
    yield c
    c.close()


def _raw(c: evidence.Collector) -> socket.socket:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(c.path)
    return s


REFUSED = {"event": "sys._getframe", "what": "sys._getframe()", "file": "s.py", "line": 3}


def test_a_record_is_the_supervisors_as_soon_as_it_is_sent(collector):
    sender = evidence.Sender(collector.path)
    sender.send(REFUSED)
    deadline = time.monotonic() + 5
    while not collector.records and time.monotonic() < deadline:
        time.sleep(0.01)
    assert [r.to_wire() for r in collector.records] == [REFUSED]  # read while the run goes on
    os.close(sender._fd)  # the student's code closes the line: nothing is taken back
    assert collector.close() == [REFUSED]


def test_a_replaced_descriptor_is_noticed_and_the_loss_said(collector):
    sender = evidence.Sender(collector.path)
    null = os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, sender._fd)  # what the student's code would do
    os.close(null)
    assert not sender.intact()
    sender.send(REFUSED)
    got = collector.close()
    assert got == [{"event": "evidence-line", "what": evidence.LOST}, REFUSED]
    assert sender.lost


def test_a_shut_line_is_connected_again(collector):
    sender = evidence.Sender(collector.path)
    socket.socket(fileno=os.dup(sender._fd)).shutdown(socket.SHUT_WR)
    sender.send(REFUSED)
    assert collector.close()[-1] == REFUSED
    assert sender.lost


def test_sending_never_raises_even_with_no_line_left(tmp_path):
    c = evidence.Collector(str(tmp_path), is_ours=lambda pid: True)
    sender = evidence.Sender(c.path)
    c.close()  # the listener is gone: no new line can be had
    os.dup2(os.open(os.devnull, os.O_WRONLY), sender._fd)
    sender.send(REFUSED)  # no exception: a refusal never depends on its evidence being sent
    assert sender.lost


GARBAGE = [
    b"[" * 100_000 + b"]" * 100_000 + b"\n",  # over a line's cap, nested deep
    b"[" * 2000 + b"]" * 2000 + b"\n",  # under the cap, nested past the recursion limit
    b"\xff\xfe not utf-8\n",
    b'{"event": "open", "what": "x", "line": ' + b"9" * 5000 + b"}\n",
    b'{"event": "open", "what": "x", "status": "sandbox-error"}\n',
    b'{"event": 1, "what": ["x"]}\n',
    b'{"event": "open", "what": "x", "line": -1}\n',
    b"null\n",
]


def test_what_the_student_writes_is_evidence_never_an_error(collector):
    s = _raw(collector)
    for line in GARBAGE:
        s.sendall(line)
    s.sendall(b'{"event": "open", "what": "\\ud800 and \\u0000"}\n')  # well formed: a record
    s.close()
    got = collector.close()
    assert got[0] == {"event": "open", "what": "\ufffd and \ufffd"}
    notes = [g["what"] for g in got[1:]]
    assert all(g["event"] == "evidence-line" for g in got[1:])
    assert len(notes) == evidence.MAX_NOTES + 1  # five described, the rest counted
    assert notes[-1] == f"{len(GARBAGE) - evidence.MAX_NOTES} more lines the grader never writes"


def test_a_flood_is_drained_counted_and_capped(collector):
    s = _raw(collector)
    record = json.dumps(REFUSED).encode() + b"\n"
    s.sendall(record * 200 + b"x" * 3_000_000)  # more records than kept, then a flood
    s.close()
    got = collector.close()
    assert got[: evidence.MAX_RECORDS] == [REFUSED] * evidence.MAX_RECORDS
    whats = " | ".join(g["what"] for g in got[evidence.MAX_RECORDS :])
    assert "100 more records beyond the 100 kept" in whats
    assert "the evidence line was flooded" in whats
    assert len(json.dumps(got)) < 100_000


def test_foreign_and_surplus_connections_are_refused_and_said(tmp_path):
    c = evidence.Collector(str(tmp_path), is_ours=lambda pid: False)
    for _ in range(3):
        s = _raw(c)
        try:
            s.sendall(json.dumps(REFUSED).encode() + b"\n")
        except BrokenPipeError:  # refused (closed) before the line was sent
            pass
        s.close()
    time.sleep(0.2)
    got = c.close()
    assert REFUSED not in got
    assert got and "3 connection(s) to the evidence line refused" in got[-1]["what"]


def test_a_piece_of_evidence_is_parsed_strictly():
    assert Evidence.parse({"event": "e", "what": "w" * 5000}).what.startswith("w" * 600)
    for bad in (
        {"event": "e"},
        {"event": "e", "what": "w", "x": 1},
        {"event": "e", "what": 1},
        {"event": "e", "what": "w", "line": True},
        [],
        "x",
    ):
        with pytest.raises(MalformedMessage):
            Evidence.parse(bad)


def test_a_refusal_does_not_depend_on_its_evidence_being_sent(tmp_path, monkeypatch):
    def broken(item):
        raise OSError("the line is gone")

    policy = audit.Policy(str(tmp_path), str(tmp_path), broken)
    monkeypatch.setattr(audit, "_policy", policy)
    with pytest.raises(PermissionError):
        audit._deny(policy, "sys._getframe()", None, "sys._getframe")


ERASER = """
    import os, sys

    def tamper_and_erase():
        try:
            getattr(sys, "_get" + "frame")(0)
        except PermissionError:
            pass
        out = os.path.join(os.path.dirname(os.getcwd()), "out")
        gone = []
        for name in os.listdir(out):  # what the kernel allows the student's uid, by any route
            try:
                os.unlink(os.path.join(out, name))
                gone.append(name)
            except OSError:
                pass
        return gone
"""


def _call(session, function: str) -> dict:
    return session.call(
        {
            "kind": "call",
            "module": "solution",
            "function": function,
            "args": codec.encode([]),
            "kwargs": codec.encode({}),
            "timeout": 10,
            "limits": {},
        }
    )


def test_a_refusal_reaches_the_reply_over_the_evidence_line(tmp_path):
    with local_session(tmp_path, ERASER + "\n    def plain():\n        return 1\n") as session:
        tampered = _call(session, "tamper_and_erase")
        plain = _call(session, "plain")  # the next request (forked warm): a line of its own
    events = [t.get("event") for t in tampered.get("tampering", [])]
    assert "sys._getframe" in events, tampered
    assert plain["status"] == "ok" and "tampering" not in plain, plain


def test_a_connection_whose_process_ended_before_it_was_taken_is_no_evidence(tmp_path):
    """Under load a quick process (an agent whose call takes a millisecond) can connect and end
    before the supervisor takes its connection; it can no longer be told ours, and an honest
    submission must not be flagged for it (seen: references flagged on the local backend)."""
    c = evidence.Collector(str(tmp_path), is_ours=lambda pid: False)
    with c._lock:  # the collector is slow to take connections, as under load
        pid = os.fork()
        if pid == 0:
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.connect(c.path)
            os._exit(0)
        os.waitpid(pid, 0)
    time.sleep(0.2)
    got = c.close()
    assert got == [] and c.unverifiable == 1 and c.refused == 0
