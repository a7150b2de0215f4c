"""Feedback that diagnoses first (grader.judge.diagnose and the helpers that use it): the one-line
diagnosis before any data, long values summarised (length, first mismatch and its index, a
short window), no raw dicts; verdict labels that follow the evidence (no "race" without
threads, a crashed MPI rank is a crash)."""

from __future__ import annotations

import numpy as np
import pytest

from grader.judge.diagnose import difference, summary
from grader.judge.expect_mpi import mpi_hang_verdict
from grader.protocol import Reply
from grader.testing import (
    Failed,
    Race,
    StudentError,
    expect_close,
    expect_equal,
    expect_no_lost_update,
)


def _message(fn, *args, **kwargs) -> str:
    with pytest.raises(Failed) as caught:
        fn(*args, **kwargs)
    return caught.value.message


def test_a_long_array_is_summarised_around_its_first_mismatch():
    expected = np.arange(100_000)
    got = expected.copy()
    got[70_001] = -5
    message = _message(expect_equal, got, expected, "f(x)")
    assert message.startswith(
        "f(x) returned an array whose item 70001 of 100000 is -5, expected 70001"
    )
    assert "[..., 69999, 70000, >-5<, 70002, 70003, ...]" in message
    assert len(message) < 300  # never the whole array
    details = Failed  # the evidence is summarised too
    with pytest.raises(details) as caught:
        expect_equal(got, expected, "f(x)")
    assert caught.value.details["got"].startswith("an array of 100000 int64 [0, 1, 2")


def test_lengths_types_and_shapes_are_said_first():
    assert difference(list(range(1000)), list(range(998))) == (
        "a list of 1000 items, expected 998; 2 extra at the end, from 998"
    )
    assert difference([1, 2], [1, 2, 3]).endswith("the items from index 2 on are missing")
    assert difference("2000", 2000) == "a str ('2000'), expected an int (2000)"
    assert difference(None, [1]) == "None, expected a list of 1 items ([1])"
    assert (
        difference(np.zeros((2, 3)), np.zeros(6)) == "an array of shape (2, 3), expected shape (6,)"
    )
    assert difference(np.zeros(3, np.int64), np.zeros(3, np.int32)) == (
        "an array of dtype int64, expected int32"
    )


def test_dicts_are_described_not_dumped():
    got = {i: i * i for i in range(40)}
    expected = {**got, 7: 50}
    del expected[39]
    expected[40] = 1600
    text = difference(got, expected)
    assert text == (
        "a dict with no entry for 40; entries that should not be there: 39; key 7 "
        "holds 49, expected 50"
    )
    assert summary(got).endswith("... 34 more} (40 entries)")


def test_close_values_name_the_distance_and_tolerance():
    message = _message(expect_close, [1.0, 2.5, 3.0], [1.0, 2.0, 3.0], "g(x)", tol=1e-3)
    assert message.startswith(
        "g(x) returned a list whose item 1 of 3 is 2.5, expected 2.0, off by 0.5 (tolerance 0.001)"
    )


def _reply(report: dict, how: str = "schedule") -> Reply:
    return Reply({"status": "ok", "value": None, "checks": {how: report}}, "parallel_count(4, 500)")


def test_a_string_without_threads_is_not_a_race():
    """Seen in the portal: parallel_count returning a string, no thread at all, was told
    'Race: updates were lost when threads were switched'."""
    reply = _reply({"seed": 3, "switches": 0, "threads": 1, "intact": True})
    with pytest.raises(Failed) as caught:
        expect_no_lost_update("2000", 2000, "parallel_count(4, 500)", reply)
    assert not isinstance(caught.value, Race)
    assert caught.value.message.startswith(
        "parallel_count(4, 500) returned a str ('2000'), expected an int (2000)"
    )
    assert "race" not in caught.value.message.lower()
    with pytest.raises(Failed) as caught:  # the right type, one thread: a wrong value
        expect_no_lost_update(1999, 2000, "parallel_count(4, 500)", reply)
    assert (
        not isinstance(caught.value, Race) and "no second thread ever ran" in caught.value.message
    )


def test_a_lost_update_with_threads_is_a_race():
    reply = _reply({"seed": 3, "switches": 40, "threads": 4, "intact": True})
    with pytest.raises(Race) as caught:
        expect_no_lost_update(1169, 2000, "parallel_count(4, 500)", reply)
    assert caught.value.message.startswith(
        "Updates were lost: parallel_count(4, 500) returned 1169, expected 2000"
    )


def test_a_rank_that_raised_is_a_crash_not_a_deadlock():
    frames = [
        {
            "file": "solution.py",
            "line": 7,
            "name": "exchange",
            "code": "x = arr[9]",
            "student": True,
        }
    ]
    reply = Reply(
        {
            "status": "timeout",
            "wall": 5.2,
            "stall_cpu_ratio": 0.0,
            "stacks": [],
            "ranks": [
                {
                    "rank": 1,
                    "status": "exception",
                    "exception": {
                        "type": "IndexError",
                        "message": "index 9 is out of bounds",
                        "frames": frames,
                    },
                }
            ],
        },
        "exchange(comm, arr) on 2 ranks",
    )
    with pytest.raises(StudentError) as caught:
        mpi_hang_verdict(reply, 2, strict=True)
    message = caught.value.message
    assert message.startswith(
        "exchange(comm, arr) on 2 ranks crashed: rank 1 raised IndexError: "
        "index 9 is out of bounds (solution.py, line 7, in exchange: "
        "`x = arr[9]`)."
    )
    assert "Rank 0 then waited" in message and caught.value.status == "error"


def test_a_child_process_that_died_is_an_error_with_its_line(tmp_path):
    """expect_no_child_exceptions reads the tracebacks Python printed on the reply's stderr
    (every rank's); a thread's is ignored unless asked for; no traceback, no verdict."""
    from grader.testing import expect_no_child_exceptions

    (tmp_path / "solution.py").write_text("def consumer(q):\n    return fib(None)\n")
    stderr = (
        "Process Process-2:\nTraceback (most recent call last):\n"
        '  File "/usr/lib/python3.11/multiprocessing/process.py", line 314, in _bootstrap\n'
        "    self.run()\n"
        '  File "/submission/solution.py", line 2, in consumer\n'
        "    return fib(None)\n"
        "TypeError: '<' not supported between instances of 'NoneType' and 'int'\n"
    )
    for raw in (
        {"status": "ok", "stderr": stderr},
        {"status": "ok", "stderr": "", "ranks": [{"stderr": ""}, {"stderr": stderr}]},
    ):
        with pytest.raises(StudentError) as caught:
            expect_no_child_exceptions(Reply(raw, "f()"), "f()", submission=tmp_path)
        assert caught.value.message.startswith(
            "In f(), the child process Process-2 ended with TypeError: "
        )
        assert "(solution.py, line 2, in consumer: `return fib(None)`)" in caught.value.message
    thread = stderr.replace("Process Process-2:", "Exception in thread Thread-1 (work):")
    expect_no_child_exceptions(Reply({"stderr": thread}, "f()"), "f()")
    with pytest.raises(StudentError):
        expect_no_child_exceptions(Reply({"stderr": thread}, "f()"), "f()", kinds=("thread",))
    expect_no_child_exceptions(Reply({"stderr": "warning: nothing died\n"}, "f()"), "f()")


def test_ranks_computing_on_a_crowded_host_are_not_a_deadlock():
    """A correct program whose ranks were still computing when the time ran out, starved of CPU
    by a busy host (a low CPU ratio), is a timeout, not a deadlock: its threads were runnable
    (`mpi_pi`'s correct pure-Python ranks once got "deadlock" at load 12)."""
    from grader.judge.verdicts import Deadlock, Timeout

    raw = _hung_in(12, "partial", "x = (i + 0.5) * h", pids=(10, 11))
    raw.update(wall=21.0, stall_cpu_ratio=0.05, running_threads=2)
    with pytest.raises(Timeout):
        mpi_hang_verdict(Reply(raw, "pi(comm, 10**7) on 2 ranks"), 2, strict=False)
    blocked = {**raw, "running_threads": 0}  # the same frames, nothing runnable: blocked there
    with pytest.raises(Deadlock):
        mpi_hang_verdict(Reply(blocked, "pi(comm, 10**7) on 2 ranks"), 2, strict=False)


def test_one_rank_sending_to_itself_is_explained_as_such():
    """A 1-rank hang in a send is not "both ranks of a pair send first": its only partner is
    itself (the corpus pair mpi_ring_one_rank)."""
    from grader.judge.verdicts import Deadlock

    raw = _hung_in(15, "ring_allreduce", "comm.Send(total, dest=right)", pids=(10,))
    for ranks, says in ((1, "rank 0 itself"), (2, "Both ranks of a pair call send first")):
        with pytest.raises(Deadlock) as caught:
            mpi_hang_verdict(Reply(raw, f"ring on {ranks} ranks"), ranks, strict=True)
        assert says in caught.value.message, caught.value.message


def _hung_in(line: int, name: str, code: str, pids: tuple) -> dict:
    """A timed-out reply whose processes `pids` each hang at `code` (solution.py `line`)."""
    frame = {"file": "solution.py", "line": line, "name": name, "student": True, "code": code}
    thread = {
        "frames": [{"file": "agent.py", "line": 1, "name": "<module>", "student": False}, frame]
    }
    return {
        "status": "timeout",
        "wall": 4.0,
        "stall_cpu_ratio": 0.0,
        "running_threads": 0,
        "stacks": [{"pid": pid, "threads": [thread]} for pid in pids],
    }
