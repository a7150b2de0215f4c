"""Exceptions of dead threads and child processes read back from a run's stderr."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from grader.judge import uncaught

TWO_CRASHES = textwrap.dedent("""
    import multiprocessing as mp

    def work(n):
        raise ValueError(f"worker {n} failed")

    if __name__ == "__main__":
        ps = [mp.Process(target=work, args=(n,)) for n in range(2)]
        for p in ps:
            p.start()
        for p in ps:
            p.join()
""")


def _stderr_of(tmp_path, source: str) -> str:
    (tmp_path / "solution.py").write_text(source)
    return subprocess.run(
        [sys.executable, "solution.py"], cwd=tmp_path, capture_output=True, text=True, timeout=60
    ).stderr


def test_each_crashed_child_is_found_with_its_line(tmp_path):
    stderr = _stderr_of(tmp_path, TWO_CRASHES)
    found = uncaught.parse(stderr, ["solution.py"])
    assert [f["kind"] for f in found] == ["process", "process"], stderr
    readable = [f for f in found if f["frames"]]
    assert readable, stderr
    for f in readable:
        assert f["type"] == "ValueError" and f["message"].startswith("worker ")
        assert f["frames"][-1] == {
            "file": "solution.py",
            "line": 5,
            "name": "work",
            "code": 'raise ValueError(f"worker {n} failed")',
            "student": True,
        }


def _interleave(a: list[str], b: list[str]) -> str:
    out = []
    for x, y in zip(a, b):
        out += [x, y]
    return "\n".join(out) + "\n"


def test_interleaved_tracebacks_still_count_every_dead_child():
    """Two children crashing at once write to one stderr line by line: whatever cannot be read
    apart is still reported as a child that died (the shared_state mutant once scored 10)."""
    one = [
        "Process Process-%d:",
        "Traceback (most recent call last):",
        '  File "/usr/lib/python3.11/multiprocessing/process.py", line 314, in _bootstrap',
        "    self.run()",
        '  File "/w/solution.py", line 5, in work',
        '    raise ValueError("worker %d failed")',
        "ValueError: worker %d failed",
    ]
    a = [line.replace("%d", "1") for line in one]
    b = [line.replace("%d", "2") for line in one]
    found = uncaught.parse(_interleave(a, b), ["solution.py"])
    assert sorted(f["name"] for f in found) == ["Process-1", "Process-2"]
    assert all(f["kind"] == "process" for f in found)
    assert any(f["type"] == "ValueError" for f in found)


def test_a_header_without_a_traceback_is_not_a_crash():
    text = "Process Process-1:\nall good\nnothing else\n" + "\n".join(["x"] * 20)
    assert uncaught.parse(text, ["solution.py"]) == []


def test_caps_hold_on_a_flood_of_headers():
    text = "Process P:\nTraceback (most recent call last):\n" * 5000
    found = uncaught.parse(text, [])
    assert len(found) <= uncaught.MAX_EXCEPTIONS


def test_a_header_inside_another_traceback_gets_the_next_one():
    """What two crashing children printed in one real run: both headers first, then the two
    tracebacks one after the other. Each child gets its own exception and line."""
    body = [
        '  File "/usr/lib/python3.11/multiprocessing/process.py", line 314, in _bootstrap',
        "    self.run()",
        '  File "/w/solution.py", line 5, in work',
        '    raise ValueError(f"worker {n} failed")',
    ]
    text = "\n".join(
        [
            "Process Process-1:",
            "Traceback (most recent call last):",
            "Process Process-2:",
            "Traceback (most recent call last):",
            *body,
            "ValueError: worker 0 failed",
            *body,
            "ValueError: worker 1 failed",
        ]
    )
    found = uncaught.parse(text, ["solution.py"])
    assert [(f["name"], f["message"], f["frames"][-1]["line"]) for f in found] == [
        ("Process-1", "worker 0 failed", 5),
        ("Process-2", "worker 1 failed", 5),
    ]


def test_a_chained_exception_reports_the_last_one_with_its_own_frames():
    text = "\n".join(
        [
            "Exception in thread Thread-1 (work):",
            "Traceback (most recent call last):",
            '  File "/w/solution.py", line 3, in work',
            "    d[k]",
            "KeyError: 'k'",
            "",
            "During handling of the above exception, another exception occurred:",
            "",
            "Traceback (most recent call last):",
            '  File "/w/solution.py", line 5, in work',
            "    raise ValueError('no k')",
            "ValueError: no k",
        ]
    )
    (exc,) = uncaught.parse(text, ["solution.py"])
    assert (exc["kind"], exc["type"], exc["message"]) == ("thread", "ValueError", "no k")
    assert [f["line"] for f in exc["frames"]] == [5]
