"""Feedback page: every verdict is shown with its evidence, hostile text is escaped, hidden tests stay hidden."""

from __future__ import annotations

import dataclasses
import html
import re
from pathlib import Path

from grader.course import Exercise, Limits, Runtime
from grader.feedback import clean_text, render_feedback
from grader.results import SubmissionResult
from grader.results import TestResult as TResult  # not "Test*": pytest would try to collect it

SCRIPT = "<script>alert(1)</script>"
IMG = "<img src=x onerror=alert(1)>"


def make_exercise(**kw) -> Exercise:
    base = dict(
        slug="bank-account",
        root=Path("/nonexistent"),
        title="Thread-safe bank account",
        topic="threads",
        points=10.0,
        files=("solution.py",),
        module="solution",
        runtime=Runtime(),
        limits=Limits(),
    )
    return Exercise(**{**base, **kw})


def frame(file, line, name, code, student=True) -> dict:
    return {"file": file, "line": line, "name": name, "code": code, "student": student}


GRADER = frame("/opt/pgrader/grader/agent/agent.py", 88, "run_probe", "return fn(*args)", False)


def sample_tests() -> list[TResult]:
    """One test of each verdict, with the evidence each verdict usually carries."""
    return [
        TResult("Deposits from one thread", "test_single", "public", "passed", 2.0, 2.0, seed=11),
        TResult(
            "Balance after 4 x 1000 deposits",
            "test_many",
            "public",
            "failed",
            0.0,
            2.0,
            "balance() returned 3817, expected 4000. Some deposits were lost: is the update "
            "protected by the lock?",
            {"expected": "4000", "got": "3817"},
            seed=12,
        ),
        TResult(
            "Withdraw more than the balance",
            "test_overdraw",
            "public",
            "error",
            0.0,
            1.0,
            "withdraw(50) raised ValueError: insufficient funds (solution.py, line 21, in withdraw)",
            {
                "exception": {
                    "type": "ValueError",
                    "message": "insufficient funds",
                    "frames": [
                        GRADER,
                        GRADER,
                        frame("solution.py", 30, "transfer", "self.withdraw(amount)"),
                        frame(
                            "solution.py", 21, "withdraw", "raise ValueError('insufficient funds')"
                        ),
                    ],
                },
                "stdout": "withdrawing 50\n",
                "stderr": "",
            },
            seed=13,
        ),
        TResult(
            "Transfers finish in time",
            "test_speed",
            "public",
            "timeout",
            0.0,
            1.0,
            "transfer_all() was still running after 20 s and kept using CPU (1.0 CPU-seconds "
            "per second): an endless loop or a busy-wait.",
            {
                "stall_cpu_ratio": 0.98,
                "stacks": [
                    {
                        "pid": 4242,
                        "threads": [
                            {
                                "thread": "0x7f01",
                                "current": True,
                                "frames": [
                                    GRADER,
                                    frame("solution.py", 44, "spin", "while not self.ready: pass"),
                                ],
                            }
                        ],
                    }
                ],
            },
            seed=14,
        ),
        TResult(
            "Two opposite transfers",
            "test_opposite",
            "public",
            "deadlock",
            0.0,
            1.0,
            "transfer() was still waiting after 20 s while using no CPU: a deadlock.",
            {
                "stall_cpu_ratio": 0.0,
                "stacks": [
                    {
                        "pid": 4243,
                        "threads": [
                            {
                                "thread": "0x7f02",
                                "current": False,
                                "frames": [
                                    GRADER,
                                    frame("solution.py", 52, "transfer", "with other.lock:"),
                                ],
                            },
                            {
                                "thread": "0x7f03",
                                "current": False,
                                "frames": [
                                    GRADER,
                                    frame("solution.py", 52, "transfer", "with other.lock:"),
                                ],
                            },
                            {"thread": "0x7f04", "current": True, "frames": [GRADER]},
                        ],
                    }
                ],
                "lock_cycles": [
                    {
                        "locks": ["a.lock", "b.lock"],
                        "sites": [
                            {
                                "file": "solution.py",
                                "line": 51,
                                "code": "with self.lock:",
                                "thread": "T1",
                            },
                            {
                                "file": "solution.py",
                                "line": 52,
                                "code": "with other.lock:",
                                "thread": "T2",
                            },
                        ],
                    }
                ],
            },
            seed=15,
        ),
        TResult(
            "Balance is protected",
            "test_race",
            "public",
            "race",
            0.0,
            1.0,
            "self.balance is updated by several threads without a common lock.",
            {
                "races": [
                    {
                        "variable": "Account.balance",
                        "explanation": "two threads wrote it with no lock held in common",
                        "writes": [
                            {
                                "thread": "Thread-1",
                                "file": "solution.py",
                                "line": 12,
                                "code": "self.balance += amount",
                                "locks": ["self.lock"],
                            },
                            {
                                "thread": "Thread-2",
                                "file": "solution.py",
                                "line": 19,
                                "code": "self.balance -= amount",
                                "locks": [],
                            },
                        ],
                    }
                ]
            },
            seed=16,
        ),
        TResult(
            "Process pool version",
            "test_pool",
            "public",
            "crashed",
            0.0,
            1.0,
            "run_pool() crashed: it ran out of memory (the limit is 512 MB).",
            {"stdout": "", "stderr": "Killed\n"},
            seed=17,
        ),
        TResult("GPU kernel", "test_gpu", "public", "not-run", 0.0, 0.5, "no GPU on this grader"),
        TResult(
            "MPI ranks agree",
            "test_mpi",
            "public",
            "grader-error",
            0.0,
            0.5,
            "the grading platform failed (sandbox died); this is not your fault",
            {"rank_failed": 2, "test_error": True},
        ),
    ]


def sample_result(**kw) -> SubmissionResult:
    base = dict(
        student="alice",
        exercise="bank-account",
        tests=sample_tests(),
        max_score=10.0,
        late_days=1,
        penalty=0.1,
        seed=123456,
        sandbox={"backend": "docker", "image": "sha256:abc123"},
        graded_at="2025-03-01T10:20:30+00:00",
    )
    return SubmissionResult(**{**base, **kw})


def sections(page: str) -> dict[str, str]:
    """Each test's section by test name."""
    out = {}
    for chunk in page.split('<section class="test ')[1:]:
        name = re.search(r"</span> (.*?)\n", chunk).group(1)
        out[html.unescape(name)] = chunk.split("</section>")[0]
    return out


def test_header_and_every_verdict():
    result = sample_result()
    page = render_feedback(result, make_exercise())
    assert page.startswith("<!DOCTYPE html>")
    assert "Thread-safe bank account" in page and "bank-account" in page and "alice" in page
    assert f">{result.score:g}<" in page and "/ 10" in page
    assert html.escape(result.summary()) in page
    assert "1 day late" in page and "10% penalty" in page
    assert "sha256:abc123" in page and "123456" in page and result.grader_version in page
    assert "2025-03-01 10:20:30" in page
    assert "could not be graded" not in page
    for label in (
        "Passed",
        "Failed",
        "Error",
        "Timeout",
        "Deadlock",
        "Race",
        "Crashed",
        "Not run",
        "Grader error",
    ):
        assert f">{label}</span>" in page, label
    assert "not your fault, will be regraded" in page
    assert "<script" not in page and "http" not in page.lower().replace("http-equiv", "")

    s = sections(page)
    assert len(s) == 9
    assert (
        "3817" in s["Balance after 4 x 1000 deposits"]
        and "Expected" in s["Balance after 4 x 1000 deposits"]
    )
    err = s["Withdraw more than the balance"]
    assert "ValueError: insufficient funds" in err and "solution.py" in err
    assert "self.withdraw(amount)" in err and "2 grader frames hidden" in err
    assert "/opt/pgrader" not in page and "run_probe" not in page
    assert "withdrawing 50" in err and "stderr" not in err
    assert (
        "0.98 CPU-seconds per second (busy: endless loop or busy-wait)"
        in s["Transfers finish in time"]
    )
    assert "while not self.ready: pass" in s["Transfers finish in time"]
    dead = s["Two opposite transfers"]
    assert "0.00 CPU-seconds per second (blocked: deadlock)" in dead
    assert "1 other thread with no line of your code hidden" in dead
    assert "a.lock → b.lock → a.lock" in dead and "with other.lock:" in dead
    race = s["Balance is protected"]
    assert "Account.balance" in race and "self.balance -= amount" in race and "self.lock" in race
    assert "Killed" in s["Process pool version"]
    assert "no GPU on this grader" in s["GPU kernel"] and "Replay" not in s["GPU kernel"]
    assert "<dt>rank_failed</dt><dd><pre>2</pre>" in s["MPI ranks agree"]
    assert "<dt>test_error</dt><dd><pre>yes</pre>" in s["MPI ranks agree"]
    # one seed, the run's, in a command that works in the student's bundle
    assert "grader check bank-account --seed 123456" in s["Balance after 4 x 1000 deposits"]
    assert "--seed" not in s["Deposits from one thread"]  # nothing to replay in a pass
    for seed in range(11, 18):
        assert not re.search(rf"seed {seed}\b", page) and f"<dd>{seed}</dd>" not in page


def test_submission_error_box():
    test = TResult(
        "Submission accepted", "submission", "public", "error", 0.0, 10.0, "solution.py is missing"
    )
    page = render_feedback(
        sample_result(tests=[test], error="solution.py is missing", late_days=0, penalty=0.0),
        make_exercise(),
    )
    assert "Refused: this submission could not be graded" in page
    assert "solution.py is missing" in page and "It scores 0" in page
    assert "Submission accepted" not in page  # no test table for what never ran
    assert "day late" not in page and "penalty" not in page


def test_hostile_text_is_escaped_and_stripped():
    evil = f"{SCRIPT}{IMG}\x1b[31mred\x1b[0m\x1b]0;title\x07\x00\x08done"
    test = TResult(
        f"name {SCRIPT}",
        "test_x",
        "public",
        "error",
        0.0,
        1.0,
        f"message {evil}",
        {
            "exception": {
                "type": "ValueError",
                "message": f"exc {evil}",
                "frames": [frame(f"{IMG}.py", 3, SCRIPT, evil)],
            },
            "stdout": f"out {evil}\n",
            "stderr": f"err {evil}",
            SCRIPT: evil,
            "expected": evil,
            "got": [evil],
        },
        seed=1,
    )
    page = render_feedback(
        sample_result(tests=[test], student=SCRIPT, sandbox={"image": IMG}),
        make_exercise(title=f"T {SCRIPT}"),
    )
    assert "<script" not in page.lower() and "<img" not in page.lower()
    assert "\x1b" not in page and "\x00" not in page and "\x08" not in page and "\x07" not in page
    assert "[31m" not in page and "0;title" not in page
    assert page.count(html.escape(SCRIPT)) >= 6
    assert html.escape(IMG) + ".py" in page
    for prefix in ("message ", "exc ", "out ", "err "):
        assert prefix + html.escape(SCRIPT + IMG) + "reddone" in page, prefix
    assert not re.search(r"<[^>]*onerror=", page)


def test_clean_text_caps_and_strips():
    assert clean_text("a\x1b[1;32mb\x1b[0m\tc\r\nd\x7f\u202e") == "ab\tc\nd"
    long = clean_text("x" * 25_000)
    assert len(long) < 20_100 and long.endswith("... truncated (5000 more characters)")


def test_hidden_tests_show_only_name_and_verdict():
    secret = "expected 42 for the secret input 7"
    tests = [
        dataclasses.replace(t, suite="hidden", message=f"{secret} {t.message}")
        for t in sample_tests()
    ]
    page = render_feedback(sample_result(tests=tests), make_exercise(hidden_visibility="hidden"))
    assert secret not in page
    for absent in (
        "3817",
        "insufficient funds",
        "withdrawing 50",
        "Account.balance",
        "Killed",
        "CPU-seconds",
        "Replay",
        "solution.py",
    ):
        assert absent not in page, absent
    for t in tests:
        assert html.escape(t.name) in page
    assert ">Deadlock</span>" in page and "not your fault" in page
    shown = render_feedback(sample_result(tests=tests), make_exercise(hidden_visibility="visible"))
    assert secret in shown and "3817" in shown


def test_a_lost_update_tells_the_interleaving_in_order():
    story = [
        "Thread-2 (work) read the shared value at solution.py line 9 (`self._value += k`) "
        "and was switched out before writing it back; Thread-4 (work) then wrote it at that "
        "same line; Thread-2 (work) resumed and wrote the value it had computed from the old "
        "one, so Thread-4 (work)'s update was lost",
        f"second {SCRIPT}",
        42,
    ]
    test = TResult(
        "No update is lost",
        "test_lost",
        "hidden",
        "race",
        0.0,
        2.0,
        "parallel_count(4, 500) returned 1169, expected 2000",
        {"interleaving": story, "expected": "2000", "got": "1169"},
        seed=7,
    )
    page = render_feedback(sample_result(tests=[test]), make_exercise())
    part = sections(page)["No update is lost"]
    steps = re.findall(
        r"<li>(.*?)</li>", part.split('<ol class="interleaving">')[1].split("</ol>")[0]
    )
    assert [html.unescape(re.sub("</?code>", "`", s)) for s in steps] == [
        story[0] + ".",
        f"second {SCRIPT}.",
    ]
    assert "line 9 (<code>self._value += k</code>)" in part  # backticks as code, escaped
    assert "<script" not in page.lower()


def test_backticks_become_code_and_nothing_else_becomes_html():
    message = f"Hold `self._lock` around `x <b>= 1`; {SCRIPT} and a lone ` tick"
    test = TResult("Locking", "test_lock", "public", "failed", 0.0, 1.0, message, seed=3)
    page = render_feedback(sample_result(tests=[test]), make_exercise())
    assert "Hold <code>self._lock</code> around <code>x &lt;b&gt;= 1</code>;" in page
    assert "<script" not in page.lower() and "<b>" not in page and "a lone ` tick" in page


def test_evidence_is_plain_text_never_python_dicts():
    details = {
        "schedule": {
            "seed": 5,
            "switches": 3,
            "intact": True,
            "interleavings": [{"step": 4, "file": "solution.py", "line": 9}],
        },
        "writes": 152,
        "threads": ["T-1", "T-2"],
    }
    test = TResult("Counting", "test_count", "public", "failed", 0.0, 1.0, "wrong", details, seed=3)
    page = html.unescape(render_feedback(sample_result(tests=[test]), make_exercise()))
    part = page.split("More details")[1]
    assert "{" not in part.split("</section>")[0] and "'" not in part.split("</section>")[0]
    assert "switches: 3" in part and "intact: yes" in part and "file: solution.py" in part
    assert "<dt>writes</dt><dd><pre>152</pre>" in part
    assert "<dt>threads</dt><dd><pre>T-1, T-2</pre>" in part
    assert "seed: 5" not in part  # one seed on the page: the run's, with its replay command


def test_an_exception_that_ended_a_thread_is_shown_with_its_line():
    uncaught = [
        {
            "kind": "thread",
            "name": "Thread-2 (work)",
            "type": "ValueError",
            "message": "worker 1 gave up",
            "frames": [GRADER, frame("solution.py", 28, "work", 'raise ValueError("gave up")')],
        },
        {
            "kind": "process",
            "name": "Process-1",
            "type": "KeyError",
            "message": "'k'",
            "frames": [frame("solution.py", 40, "child", "d['k']")],
        },
    ]
    failed = TResult(
        "Counting",
        "test_count",
        "public",
        "failed",
        0.0,
        1.0,
        "parallel_count(2, 100) returned 100, expected 200.",
        {"expected": "200", "got": "100", "uncaught": uncaught},
        seed=3,
    )
    passed = dataclasses.replace(failed, name="Passing", verdict="passed", points=1.0, message="")
    page = render_feedback(sample_result(tests=[failed, passed]), make_exercise())
    part = sections(page)["Counting"]
    assert "An exception ended a thread (Thread-2 (work))" in part
    assert "ValueError: worker 1 gave up" in part and "<td>28</td>" in part
    assert "An exception ended a child process (Process-1)" in part and "KeyError" in part
    assert "/opt/pgrader" not in part and "uncaught" not in part
    assert "An exception ended" not in sections(page)["Passing"]  # a pass is never flagged
