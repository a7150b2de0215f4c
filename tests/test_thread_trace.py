"""Every new thread gets the race checks' tracer, even while another thread installs its own.

CPython 3.11's `_PyEval_SetTrace` sets a process-wide `static int reentrant` before it calls the
audit hooks and clears it after the new trace function is in place; a `sys.settrace` in any
other thread meanwhile raises RuntimeError ("Cannot install a trace function while another
trace function is being installed"). The audit hooks are Python code: the GIL can pass to a
thread that is starting, and threading's `_bootstrap_inner` (`_sys.settrace(_trace_hook)`)
killed it before its target ran -- the locked_counter reference scored 9.5 on a loaded machine,
`parallel_count(8, 500)` returning 3500. An audit hook that sleeps on `sys.settrace` makes that
switch happen every time instead of by chance.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from grader.course import load_course
from grader.grade import grade_submission

ROOT = Path(__file__).resolve().parents[1]
GUARDED = sys.version_info[:2] == (3, 11)  # 3.12 dropped the guard (PEP 669's sys.settrace)

# An audit hook that gives the GIL away inside sys.settrace, as a busy machine does at random.
YIELDING_HOOK = """
import sys, time

def _yield_on_settrace(event, args):
    if event == "sys.settrace":
        time.sleep(0.001)

sys.addaudithook(_yield_on_settrace)
"""

# 40 threads, started by `STARTERS` threads at once (10 each) or by this one: a thread installs
# its tracer before threading's bootstrap says it started, so one starter's threads install one
# at a time; several starters' threads meet the guard (the retry's case).
THREADS = """
import threading
ran = []
def work():
    ran.append(traced())
def start(n):
    ts = [threading.Thread(target=work) for _ in range(n)]
    for t in ts: t.start()
    for t in ts: t.join()
if STARTERS:
    start_all = [threading.Thread(target=start, args=(40 // STARTERS,)) for _ in range(STARTERS)]
    for t in start_all: t.start()
    for t in start_all: t.join()
else:
    start(40)
print(len(ran), sum(ran))
"""
STARTERS = pytest.mark.parametrize("starters", [0, 4])


def _run(script: str) -> tuple[str, str]:
    """`script` in a fresh interpreter (audit hooks stay for good) importing this tree's grader."""
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout.strip(), done.stderr


@pytest.mark.skipif(not GUARDED, reason="only CPython 3.11 has the process-wide guard")
@STARTERS
def test_threadings_own_hook_loses_threads_while_another_installs(starters):
    """The cause, without the grader: threading.settrace alone lets threads die at start."""
    out, err = _run(
        f"STARTERS = {starters}\n" + YIELDING_HOOK + "threading_hook = lambda *a: None\n"
        "import threading; threading.settrace(threading_hook)\n"
        "traced = lambda: sys.gettrace() is threading_hook\n" + THREADS
    )
    ran, traced = map(int, out.split())
    assert ran < 40 and traced == ran, out
    assert "Cannot install a trace function while another" in err


@STARTERS
def test_every_thread_gets_the_tracer_while_others_install_theirs(starters):
    out, err = _run(
        f"STARTERS = {starters}\n" + YIELDING_HOOK + "from grader.checks import tracing\n"
        "tracing.install('/nowhere', lambda frame: None)\n"
        "traced = lambda: tracing.REAL_GETTRACE() is tracing.hook()\n"
        + THREADS
        + "print(tracing.intact(), threading.gettrace(), sys.gettrace())\n"
    )
    assert out.splitlines() == ["40 40", "True None None"], (out, err[-2000:])
    assert "Traceback" not in err


@pytest.mark.parametrize("error", ["RuntimeError('another message')", "PermissionError('no')"])
def test_only_the_guards_refusal_is_tried_again(error):
    """Any other failure of sys.settrace in a new thread is not waited out: the thread ends."""
    out, err = _run(
        f"""
        import sys, threading
        from grader.checks import tracing
        tracing.install_baseline()
        def refuse(event, args):
            if event == "sys.settrace":
                raise {error}
        sys.addaudithook(refuse)
        t = threading.Thread(target=print, args=("ran",))
        t.start()
        t.join()
        print("joined")
        """
    )
    assert out == "joined" and error.split("(")[0] in err, (out, err[-2000:])


def test_the_reference_keeps_full_marks_when_the_gil_moves_inside_settrace(tmp_path):
    """The real agent: the locked_counter reference, with a hook that yields in sys.settrace
    (main's code: 2.5 of 10, threads dead at start in every test that starts them)."""
    reference = (ROOT / "solutions" / "locked_counter" / "solution.py").read_text()
    src = tmp_path / "submission"
    src.mkdir()
    (src / "solution.py").write_text(YIELDING_HOOK + reference)
    course = load_course(ROOT)
    result = grade_submission(
        course, course.exercise("locked_counter"), src, backend="local", seed=11
    )
    assert result.score == result.max_score, [
        (t.function, t.verdict, t.message) for t in result.tests if t.verdict != "passed"
    ]
