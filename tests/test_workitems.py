"""Work items (grader.checks.workitems): sealed where they run, verified by the supervisor, credited
by the judge only where their sealed value came back at the position of their own task."""

from __future__ import annotations

import hmac
import os

import pytest

from grader.checks import workitems
from grader.checks.workitems import Item, Sealed, churn
from grader.judge.expect_concurrency import expect_parallel
from grader.protocol import Reply
from grader.testing import Failed

KEY = bytes(range(32))


@pytest.fixture
def armed(tmp_path):
    """Item armed with KEY, writing into tmp_path; put back as it was afterwards."""
    plain = Item.__call__
    workitems.arm(KEY, str(tmp_path))
    try:
        yield tmp_path
    finally:
        Item.__call__ = plain


def _line(record: str, key: bytes = KEY) -> str:
    return record + " " + hmac.new(key, record.encode(), "sha256").hexdigest()


def test_churn_is_the_recurrence_step_by_step():
    x = 7
    for _ in range(5):
        x = (x * x + 1442695040888963407) % workitems.PRIME
    assert churn((7, 5)) == x
    assert churn((7, 0)) == 7 and churn((workitems.PRIME + 7, 0)) == 7


def test_an_armed_item_seals_the_grader_work_and_records_it(armed):
    task = (123456789, 20_000)
    got = Item(churn)(task)
    assert type(got) is Sealed and got.value == churn(task)
    items = workitems.read(str(armed), {os.getpid(): 5.0}, KEY)
    [rec] = items["records"]
    pid, start, end, cpu, arg, value, tag = rec
    assert (pid, arg, value, tag) == (os.getpid(), workitems.digest((task,)), churn(task), got.tag)
    assert 0 <= start <= end and 0 <= cpu < 5
    assert items["forged"] == 0 and items["kernel_cpu"] == {str(os.getpid()): 5.0}
    # Under any other key, the same line is a forgery.
    assert workitems.read(str(armed), {os.getpid(): 5.0}, b"k" * 32)["forged"] == 1


def test_only_the_grader_work_is_sealed(armed):
    """Another function, odd arguments, or the work function with its code swapped: the call
    runs as it is, unrecorded, and its value comes back unsealed."""
    assert Item(abs)(-3) == 3
    assert Item(lambda task: 42)((1, 10)) == 42
    assert Item(churn)((1.0, 3)) == churn((1.0, 3))  # not an int seed
    assert Item(churn)([1, 3]) == churn((1, 3))  # not a tuple
    code = churn.__code__
    churn.__code__ = (lambda task: 0).__code__
    try:
        assert Item(churn)((1, 3)) == 0
    finally:
        churn.__code__ = code
    assert not [n for n in os.listdir(armed) if n.startswith("items-")]
    assert type(Item(churn)((1, 3))) is Sealed  # the code back: sealed again


def test_records_without_the_right_seal_are_dropped(tmp_path):
    """Whatever the student's processes write into an items file is untrusted: junk, a wrong
    tag, numbers too big for a float, a process the kernel never saw."""
    good = _line("10 0.0 1.0 0.5 aaaa 77")
    lines = [
        good,
        "junk",
        _line("10 0.0 1.0 0.5 bbbb 77", b"x" * 32),  # another key
        good.replace(" 77 ", " 78 "),  # the value changed after sealing
        _line("10 " + "1" * 400 + " " + "1" * 400 + " 0.0 cccc 1"),  # inf: not a time
        _line("99 0.0 1.0 0.5 dddd 1"),  # a process the kernel never saw
        _line("10 0.0 1.0 0.5 eeee " + "9" * 5000),  # too long a line
    ]
    (tmp_path / "items-10.jsonl").write_text("\n".join(lines) + "\n")
    got = workitems.read(str(tmp_path), {10: 1.0, 11: 2.0}, KEY)
    assert [r[:6] for r in got["records"]] == [[10, 0.0, 1.0, 0.5, "aaaa", 77]]
    assert got["forged"] == 5 and got["kernel_cpu"] == {"10": 1.0, "11": 2.0}
    assert workitems.read(str(tmp_path), {10: 1.0}, None) == {}


def _rec(pid, start, end, cpu, arg, value):
    return [pid, start, end, cpu, arg, value, f"t-{pid}-{arg}-{start}"]


def test_credit_only_sealed_values_of_their_own_task():
    a, b, c = (
        _rec(10, 0.0, 1.0, 1.0, "A", 1),
        _rec(11, 0.5, 1.5, 1.0, "B", 2),
        _rec(10, 1.0, 2.0, 1.0, "C", 3),
    )
    again = _rec(11, 1.5, 2.5, 1.0, "C", 3)  # task C computed twice
    own = _rec(11, 2.5, 3.0, 0.4, "X", 9)  # a task nobody handed out
    items = {"records": [a, b, c, again, own], "kernel_cpu": {"10": 2.0, "11": 0.5, "12": 4.0}}
    got = workitems.credit(items, ["A", "B", "C"], [[1, a[6]], [2, b[6]], [3, c[6]]])
    assert (got["items"], got["processes"], got["overlap"]) == (3, 2, 2)
    assert (got["twice"], got["foreign"], got["unsealed"], got["wrong_seal"]) == (1, 1, 0, 0)
    assert got["work"] == pytest.approx(2.55) and got["span"] == pytest.approx(2.0)  # 11 capped
    assert got["outside"] == {"10": 0.0, "11": 0.0, "12": 4.0}  # 12 burnt CPU, ran no item
    wrong = [
        [[1, None], [2, b[6]], [3, c[6]]],  # unsealed
        [[1, b[6]], [2, b[6]], [3, c[6]]],  # the seal of another task
        [[1, a[6]], [2, a[6]], [3, c[6]]],  # one seal twice
        [[5, a[6]], [2, b[6]], [3, c[6]]],  # another value under a real seal
        [[1, "forged"], [2, b[6]], [3, c[6]]],  # no such record
    ]
    counts = [
        (
            workitems.credit(items, ["A", "B", "C"], r)["unsealed"],
            workitems.credit(items, ["A", "B", "C"], r)["wrong_seal"],
        )
        for r in wrong
    ]
    assert counts == [(1, 0), (0, 1), (0, 1), (0, 1), (0, 1)]


def test_credit_without_returned_values_takes_each_tasks_first_record():
    """A call whose values do not come back (processes' exit codes): each handed-out task's
    first sealed record counts once; a task computed again is still work done twice."""
    a, b = _rec(10, 0.0, 1.0, 1.0, "A", 1), _rec(11, 0.2, 1.2, 1.0, "B", 2)
    again = _rec(11, 1.5, 2.5, 1.0, "A", 1)
    items = {"records": [a, b, again], "kernel_cpu": {"10": 1.0, "11": 2.0}}
    got = workitems.credit(items, ["A", "B"], None)
    assert (got["items"], got["processes"], got["overlap"], got["twice"]) == (2, 2, 2, 1)
    assert (got["unsealed"], got["wrong_seal"], got["missing"]) == (0, 0, 0)
    assert workitems.credit({"records": [a]}, ["A", "B"], None)["missing"] == 1


def test_a_pool_whose_last_worker_came_up_late_is_judged_from_then():
    # Worker 1 alone from 0 to 0.4 s (worker 2 still starting), then both at once.
    recs = [_rec(1, i / 10, (i + 1) / 10, 0.1, f"i{i}", i) for i in range(6)]
    recs += [_rec(2, 0.4, 0.5, 0.1, "i6", 6), _rec(2, 0.5, 0.6, 0.1, "i7", 7)]
    back = [[r[5], r[6]] for r in recs]
    got = workitems.credit(
        {"records": recs, "kernel_cpu": {1: 0.6, 2: 0.2}}, [f"i{i}" for i in range(8)], back
    )
    assert got["work"] / got["span"] == pytest.approx(0.8 / 0.6)  # the whole run: under 1.5
    assert (got["joined_items"], got["joined_work"], got["joined_span"]) == (4, 0.4, 0.2)
    assert got["overlap"] == 2
    # Taking turns (one item at a time, alternating) never overlaps, late start or not.
    turns = [_rec(1 + i % 2, i / 10, (i + 1) / 10, 0.1, f"i{i}", i) for i in range(8)]
    back = [[r[5], r[6]] for r in turns]
    got = workitems.credit(
        {"records": turns, "kernel_cpu": {1: 0.4, 2: 0.4}}, [f"i{i}" for i in range(8)], back
    )
    assert got["overlap"] == 1


def _judge(records, kernel_cpu, back):
    reply = Reply(
        {"work_items": {"records": records, "kernel_cpu": kernel_cpu}, "wall": 1.0}, "m()"
    )
    expect_parallel(reply, "m()", workers=2, cores=2, items=[r[4] for r in records], returned=back)


def test_the_verdicts_on_sealed_items():
    a, b = _rec(1, 0.0, 1.0, 1.0, "A", 1), _rec(2, 0.0, 1.0, 1.0, "B", 2)
    _judge([a, b], {"1": 1.1, "2": 1.1}, [[1, a[6]], [2, b[6]]])  # two processes at once: passes
    with pytest.raises(Failed, match="without the seal of the grader's work item"):
        _judge([a, b], {"1": 1.1, "2": 1.1}, [[1, a[6]], [2, None]])
    with pytest.raises(Failed, match="with a seal that is not the one"):
        _judge([a, b], {"1": 1.1, "2": 1.1}, [[1, a[6]], [2, a[6]]])
    # Process 1 also computed values outside its items (threads, func.fn): 1.5 s it cannot show.
    with pytest.raises(Failed, match=r"used 1\.50 CPU-seconds outside the grader's work items"):
        _judge([a, b], {"1": 2.5, "2": 1.1}, [[1, a[6]], [2, b[6]]])


def test_unseal_splits_values_from_seals():
    assert workitems.unseal([Sealed(1, "t1"), 2, Sealed(3, 4)]) == {
        "values": [1, 2, 3],
        "seals": ["t1", None, None],
    }
    assert workitems.unseal((Sealed(1, "t1"),)) == {"values": (1,), "seals": ["t1"]}
    assert workitems.unseal(None) == {"values": None, "seals": None}
