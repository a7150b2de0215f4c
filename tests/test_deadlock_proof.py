"""Deadlocks proven at once from the kernel's view (grader/agent/stuck.py), never for code that
can still go on.

The false positives come first: programs whose threads wait but can still be woken (by a live
thread, a timeout, a sleeping or computing thread, a child process, a signal handler a timer
may run) must never be proven stuck, however long they are watched. Then real deadlocks of
every primitive, proven; then the supervisor's reply for a proven deadlock against the timeout
path's for the same code (same verdict, message and stacks)."""

from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from conftest import sandbox_student
from grader.agent import stuck
from grader.agent.supervisor import descendants
from grader.course import Limits
from grader.judge import verdicts
from grader.judge.proxy import Student
from grader.judge.verdicts.reply import raise_for
from grader.sandbox import get_backend

WATCH = 1.0  # seconds a correct program is watched; a deadlock is proven in about 0.1 s


def _syscall_readable() -> bool:
    try:
        Path(f"/proc/{os.getppid()}/syscall").read_text()
        return True
    except OSError:
        return False


needs_ptrace = pytest.mark.skipif(
    not _syscall_readable(),
    reason="/proc/PID/syscall is not readable here (root or "
    "CAP_SYS_PTRACE needed): nothing is ever proven",
)


def _every_descriptor_readable() -> bool:
    """Whether every process's open files can be read here (a pipe wait is proven only then:
    on a machine whose init hides its descriptors from root, as in some VMs, never)."""
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            for fd in os.listdir(f"/proc/{pid}/fd"):
                os.readlink(f"/proc/{pid}/fd/{fd}")
        except FileNotFoundError:
            continue
        except OSError:
            return False
    return True


needs_fd_tables = pytest.mark.skipif(
    not (_syscall_readable() and _every_descriptor_readable()),
    reason="some process's descriptors are not readable here: no pipe wait is ever proven "
    "(tested on Docker instead)",
)


# ---------------------------------------------------------------- the system call decoder


@pytest.mark.parametrize(
    "line, wait",
    [
        ("202 0x55b7b6b3f9d0 0x189 0x0 0x0 0x0 0xffffffff 0x7f 0x7f", "futex 0x55b7b6b3f9d0"),
        ("202 0x55b7b6b3f9d0 0x80 0x0 0x0 0x0 0x0 0x7f 0x7f", "futex 0x55b7b6b3f9d0"),  # FUTEX_WAIT
        ("202 0x55b7b6b3f9d0 0x89 0x0 0x7f171391a9f0 0x0 0xffffffff 0x7f 0x7f", None),  # timeout
        ("202 0x55b7b6b3f9d0 0x81 0x1 0x0 0x0 0x0 0x7f 0x7f", None),  # FUTEX_WAKE
        ("230 0x1 0x1 0x7f171190aab0 0x0 0x0 0x7f 0x7f 0x7f", None),  # clock_nanosleep: time.sleep
        ("61 0xffffffffffffffff 0x7ffc 0x0 0x0 0x0 0x0 0x7f 0x7f", "wait4 18446744073709551615"),
        ("61 0x1234 0x7ffc 0x1 0x0 0x0 0x0 0x7f 0x7f", None),  # WNOHANG
        ("0 0x3 0x55 0x2000 0x1000 0x0 0x0 0x7f 0x7f", "read 3"),  # a pipe? (pipe_wait tells)
        ("1 0x4 0x55 0x2000 0x1000 0x0 0x0 0x7f 0x7f", "write 4"),
        ("7 0x7ffc 0x1 0xffffffff 0x0 0x0 0x0 0x7f 0x7f", None),  # poll
        ("running", None),
        ("-1 0x7ffc 0x7f", None),
        ("202 0xzz 0x189 0x0 0x0 0x0 0x0 0x7f 0x7f", None),
    ],
)
@pytest.mark.skipif(os.uname().machine != "x86_64", reason="x86_64 system call numbers")
def test_only_untimed_waits_on_futexes_and_children_count(line, wait):
    assert stuck.wait_of(line) == wait


# ---------------------------------------------------------------- real processes


def _proof(script: str, seconds: float = WATCH) -> dict | None:
    """Run `script` (it prints a line once set up), watch its tree for `seconds` (or until a
    proof), kill it, and return the proof or None."""
    code = "import sys, os, time, threading, queue, signal\n" + textwrap.dedent(script)
    proc = subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.PIPE, start_new_session=True
    )
    try:
        assert proc.stdout.readline(), "the script did not get ready"
        watch, end = stuck.StuckWatch(), time.monotonic() + seconds

        def tree():
            return {proc.pid, *descendants(proc.pid)}

        while time.monotonic() < end:
            found = watch.check(tree(), tree)
            if found:
                return found
            time.sleep(0.02)
        return None
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


READY = "print('ready', flush=True)\n"

CAN_GO_ON = {
    "join while the worker computes": """
        def work():
            x = 0
            while True:
                x += 1
        threading.Thread(target=work, daemon=True).start()
        print('ready', flush=True)
        threading.Event().wait()
    """,
    "join while the worker sleeps": """
        t = threading.Thread(target=time.sleep, args=(30,))
        t.start()
        print('ready', flush=True)
        t.join()
    """,
    "a lock held by a sleeping thread": """
        lock = threading.Lock()
        def holder():
            with lock:
                time.sleep(30)
        threading.Thread(target=holder, daemon=True).start()
        time.sleep(0.05)
        print('ready', flush=True)
        lock.acquire()
    """,
    "Event.wait with a timeout": """
        print('ready', flush=True)
        threading.Event().wait(30)
    """,
    "queue.get with a timeout, beside a thread blocked for good": """
        threading.Thread(target=threading.Event().wait, daemon=True).start()
        print('ready', flush=True)
        queue.Queue().get(timeout=30)
    """,
    "Condition.wait with a timeout": """
        c = threading.Condition()
        print('ready', flush=True)
        with c:
            c.wait(30)
    """,
    "a thread reading a pipe whose write end the watcher holds (stdin)": """
        t = threading.Thread(target=os.read, args=(0, 1))
        t.start()
        print('ready', flush=True)
        t.join()
    """,
    "a parent reading a pipe a sleeping child will write": """
        r, w = os.pipe()
        if os.fork() == 0:
            time.sleep(30)
            os.write(w, b'x')
            os._exit(0)
        print('ready', flush=True)
        os.read(r, 1)
    """,
    "a named pipe (anyone may open it) read by its only holder": """
        import tempfile
        path = os.path.join(tempfile.mkdtemp(), 'fifo')
        os.mkfifo(path)
        fd = os.open(path, os.O_RDWR)
        print('ready', flush=True)
        os.read(fd, 1)
    """,
    "a multiprocessing.Queue get while a consumer computes": """
        import multiprocessing as mp
        def spin(q):
            while True:
                pass
        if __name__ == '__main__':
            q = mp.get_context('fork').Queue()
            mp.get_context('fork').Process(target=spin, args=(q,), daemon=True).start()
            print('ready', flush=True)
            q.get()
    """,
    "a parent waiting for a sleeping child": """
        import subprocess
        child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(30)'])
        print('ready', flush=True)
        child.wait()
    """,
    "a parent waiting for a computing child process": """
        import multiprocessing as mp
        def spin():
            while True:
                pass
        if __name__ == '__main__':
            p = mp.get_context('fork').Process(target=spin)
            p.start()
            print('ready', flush=True)
            p.join()
    """,
    "a lock wait a timer's signal handler ends": """
        def give_up(*_):
            raise TimeoutError
        signal.signal(signal.SIGALRM, give_up)
        signal.alarm(30)
        lock = threading.Lock()
        lock.acquire()
        print('ready', flush=True)
        lock.acquire()
    """,
    "an interval timer's handler, a deadlocked worker": """
        signal.signal(signal.SIGVTALRM, lambda *_: None)
        a, b = threading.Lock(), threading.Lock()
        a.acquire(); b.acquire()
        threading.Thread(target=a.acquire, daemon=True).start()
        print('ready', flush=True)
        b.acquire()
    """,
}

STUCK = {
    "a thread reading a pipe only its own process can write, the other joining it": """
        r, w = os.pipe()
        t = threading.Thread(target=os.read, args=(r, 1))
        t.start()
        print('ready', flush=True)
        t.join()
    """,
    "a parent waiting on a multiprocessing.Queue whose consumers all ended": """
        import multiprocessing as mp
        ctx = mp.get_context('fork')
        def consumer(tasks, results):
            while not tasks.empty():
                results.put(tasks.get())
        if __name__ == '__main__':
            tasks, results = ctx.Queue(), ctx.Queue()
            ps = [ctx.Process(target=consumer, args=(tasks, results)) for _ in range(2)]
            for p in ps:
                p.start()
            for p in ps:
                p.join()
            print('ready', flush=True)
            results.get()
    """,
    "a join before the results that fill the pipe were taken": """
        import multiprocessing as mp
        ctx = mp.get_context('fork')
        def produce(results):
            results.put(b'x' * 200_000)
        if __name__ == '__main__':
            results = ctx.Queue()
            p = ctx.Process(target=produce, args=(results,))
            p.start()
            print('ready', flush=True)
            p.join()
    """,
    "a lock-order inversion": """
        a, b = threading.Lock(), threading.Lock()
        go = threading.Barrier(2)
        def one():
            with a:
                go.wait()
                b.acquire()
        t = threading.Thread(target=one)
        t.start()
        with b:
            go.wait()
            print('ready', flush=True)
            a.acquire()
    """,
    "a Lock taken twice by one thread": """
        lock = threading.Lock()
        print('ready', flush=True)
        with lock:
            lock.acquire()
    """,
    "an Event nobody sets": """
        print('ready', flush=True)
        threading.Event().wait()
    """,
    "a queue consumer never told to stop, joined": """
        q = queue.Queue()
        t = threading.Thread(target=lambda: [q.get() for _ in range(3)])
        t.start()
        q.put(1)
        print('ready', flush=True)
        t.join()
    """,
    "a Semaphore and a Condition, both waited for by their only users": """
        s, c = threading.Semaphore(0), threading.Condition()
        def waiter():
            with c:
                c.wait()
        threading.Thread(target=waiter).start()
        print('ready', flush=True)
        s.acquire()
    """,
    "a parent waiting for a deadlocked child": """
        pid = os.fork()
        if pid == 0:
            lock = threading.Lock()
            lock.acquire()
            lock.acquire()
        print('ready', flush=True)
        os.waitpid(pid, 0)
    """,
    "two processes on a multiprocessing Lock": """
        import multiprocessing as mp
        ctx = mp.get_context('fork')
        lock = ctx.Lock()
        def child():
            lock.acquire()
        if __name__ == '__main__':
            lock.acquire()
            p = ctx.Process(target=child)
            p.start()
            print('ready', flush=True)
            p.join()
    """,
}


PIPE_STUCK = {name for name in STUCK if "pipe" in name or "Queue" in name}


@pytest.mark.parametrize("name", sorted(CAN_GO_ON))
def test_a_program_that_can_still_go_on_is_never_proven_stuck(name):
    assert _proof(CAN_GO_ON[name]) is None


@needs_ptrace
@pytest.mark.parametrize(
    "name",
    [pytest.param(n, marks=needs_fd_tables) if n in PIPE_STUCK else n for n in sorted(STUCK)],
)
def test_a_real_deadlock_is_proven_in_well_under_a_second(name):
    start = time.monotonic()
    proof = _proof(STUCK[name], seconds=3.0)
    assert proof is not None, f"{name} was not proven stuck"
    assert time.monotonic() - start < 1.5
    assert proof["held"] >= stuck.HOLD and proof["threads"] >= 1


def test_a_pipe_end_held_outside_the_tree_or_unreadable_proves_nothing(monkeypatch):
    """The other end of the pipe a thread waits on, held by a process outside the tree (here:
    this one), or a process whose descriptors cannot be read, is no proof."""
    r, w = os.pipe()
    try:
        inode = os.fstat(r).st_ino
        me = os.getpid()
        assert not stuck.only_the_tree_can_end({f"pipe-read {inode}"}, {me + 10**7})
        assert not stuck.only_the_tree_can_end({f"pipe-write {inode}"}, {me + 10**7})
        real = os.listdir

        def hidden(path):
            if path == f"/proc/{me}/fd":
                raise PermissionError(path)
            return real(path)

        monkeypatch.setattr(stuck.os, "listdir", hidden)
        assert not stuck.only_the_tree_can_end({"pipe-read 1"}, {me})
    finally:
        os.close(r)
        os.close(w)


def test_a_thread_that_ran_between_the_two_looks_breaks_the_proof(monkeypatch):
    """Two looks that differ (a thread switched in between) are no proof, however stuck each
    look alone seems."""
    looks = iter([{1: (1, "futex 0x1", "5", "0")}, {1: (1, "futex 0x1", "6", "0")}] * 50)
    monkeypatch.setattr(stuck, "snapshot", lambda pids: next(looks))
    watch = stuck.StuckWatch(hold=0)
    assert all(watch.check({1}, lambda: {1}) is None for _ in range(10))


def test_a_process_forked_between_the_looks_breaks_the_proof(monkeypatch):
    monkeypatch.setattr(stuck, "snapshot", lambda pids: {1: (1, "futex 0x1", "5", "0")})
    watch = stuck.StuckWatch(hold=0)
    assert watch.check({1}, lambda: {1, 2}) is None
    assert watch.check({1}, lambda: {1}) is not None


# ---------------------------------------------------------------- through the supervisor

BUGS = Path(__file__).parent / "bugs"


def _student(folder: Path, source: Path, stack):
    folder.mkdir()
    (folder / "solution.py").write_text(source.read_text())
    limits = Limits(wall_seconds=30)
    session = stack.enter_context(get_backend("local").open(folder, limits))
    return Student(
        session=session, module="solution", timeout=10, limits=dataclasses.asdict(limits)
    )


def _verdict(reply) -> verdicts.Verdict:
    with pytest.raises(verdicts.Verdict) as caught:
        raise_for(reply)
    return caught.value


def _threads(module, n):
    return module.run(n)


@needs_ptrace
def test_a_proven_deadlock_gets_the_timeout_paths_verdict_message_and_stacks(tmp_path):
    """The lost wake-up of tests/bugs: proven in well under a second, with the verdict, message
    (but for the seconds) and stacks the request gets when it waits out its timeout."""
    from contextlib import ExitStack

    with ExitStack() as stack:
        student = _student(tmp_path / "s", BUGS / "lost_wakeup_event" / "bug.py", stack)
        proven = student.reply(_threads, 200, checks={"preempt": {"seed": 0}}, timeout=2)
        call = student.session.call
        student.session.call = lambda request: call({**request, "prove_deadlock": False})
        waited = student.reply(_threads, 200, checks={"preempt": {"seed": 0}}, timeout=2)
    assert proven.raw["deadlock_proof"]["threads"] == 2
    assert proven.wall < 1.0 <= 2.0 <= waited.wall
    assert "deadlock_proof" not in waited.raw
    a, b = _verdict(proven), _verdict(waited)
    assert type(a) is type(b) is verdicts.Deadlock
    assert a.message.replace(proven.waited, "N s") == b.message.replace(waited.waited, "N s")
    assert "threads were stuck at solution.py line 18 (`self.event.wait()`)" in a.message

    def where(reply):
        return sorted(
            (f["file"], f["line"], f["name"])
            for p in reply.raw["stacks"]
            for t in p["threads"]
            for f in t["frames"]
            if f["student"]
        )

    assert where(proven) and where(proven) == where(waited)


def _sleep_then_answer(module, seconds):
    import threading
    import time as t

    box = []
    worker = threading.Thread(target=lambda: (t.sleep(seconds), box.append(42)))
    worker.start()
    worker.join()  # the main thread waits for good while the worker only sleeps
    return box[0]


def _sleeps_forever(module):
    import threading
    import time as t

    threading.Thread(target=t.sleep, args=(60,)).start()
    threading.Event().wait()


def test_a_waiting_main_thread_beside_a_sleeping_worker_is_waited_for(tmp_path):
    """Correct code whose every thread waits for a while is never ended early; a hang that is
    a sleep (nothing to prove) still gets the timeout path."""
    from contextlib import ExitStack

    with ExitStack() as stack:
        student = _student(tmp_path / "s", BUGS / "lost_wakeup_event" / "twin.py", stack)
        assert student.run(_sleep_then_answer, 1.5, timeout=5) == 42
        hung = student.reply(_sleeps_forever, timeout=1)
    assert hung.status == "timeout" and "deadlock_proof" not in hung.raw
    assert hung.wall >= 1.0


# ---------------------------------------------------------------- on Docker


def _capabilities(module):
    with open("/proc/self/status") as f:
        fields = dict(line.split(":", 1) for line in f if ":" in line)
    return {k: int(fields[k], 16) for k in ("CapInh", "CapPrm", "CapEff", "CapAmb")}


@pytest.mark.slow
def test_on_docker_a_deadlock_is_proven_and_the_student_has_no_capability(docker_backend, tmp_path):
    """The supervisor's CAP_SYS_PTRACE (to read the threads' system calls) is its own: the
    student's process has no capability at all; and the proof works in the real sandbox."""
    source = (BUGS / "lost_wakeup_event" / "bug.py").read_text()
    with sandbox_student(docker_backend, tmp_path / "s", source) as student:
        assert student.run(_capabilities) == {"CapInh": 0, "CapPrm": 0, "CapEff": 0, "CapAmb": 0}
        reply = student.reply(_threads, 200, checks={"preempt": {"seed": 0}}, timeout=2)
    assert reply.raw["deadlock_proof"]["waits"] == {"futex": 2}
    assert reply.wall < 1.0
    assert type(_verdict(reply)) is verdicts.Deadlock


LOST_RESULTS = """
import multiprocessing


def consumer(tasks, results):
    results.put(tasks.get() * 2)  # one value, then it ends: the other values are lost


def run(values, n_consumers):
    tasks, results = multiprocessing.Queue(), multiprocessing.Queue()
    for v in values:
        tasks.put(v)
    procs = [multiprocessing.Process(target=consumer, args=(tasks, results))
             for _ in range(n_consumers)]
    for p in procs:
        p.start()
    out = [results.get() for _ in values]
    for p in procs:
        p.join()
    return out
"""


def _run_values(module, values, n):
    return module.run(values, n)


@pytest.mark.slow
def test_on_docker_a_queue_nobody_will_fill_is_proven(docker_backend, tmp_path):
    """A parent waiting on a multiprocessing.Queue whose consumers have all ended (values lost)
    is proven stuck at once in the real sandbox (the pipe's write ends are all in the tree),
    with the timeout path's verdict and message; the same code with enough consumers passes."""
    with sandbox_student(docker_backend, tmp_path / "s", LOST_RESULTS) as student:
        assert sorted(student.run(_run_values, [1, 2, 3], 3, timeout=4)) == [2, 4, 6]
        proven = student.reply(_run_values, [1, 2, 3, 4, 5], 2, timeout=3)
        # under spawn the children and multiprocessing's resource tracker exec a program: their
        # /proc files are the student's uid's, read by the supervisor as that uid
        spawned = student.reply(_run_values, [1, 2, 3, 4, 5], 2, start_method="spawn", timeout=6)
        call = student.session.call
        student.session.call = lambda request: call({**request, "prove_deadlock": False})
        waited = student.reply(_run_values, [1, 2, 3, 4, 5], 2, timeout=3)
    assert "pipe-read" in proven.raw["deadlock_proof"]["waits"], proven.raw.get("deadlock_proof")
    assert proven.wall < 1.5 and waited.wall >= 3.0, (proven.wall, waited.wall)
    assert spawned.raw.get("deadlock_proof", {}).get("processes", 0) >= 2, spawned.raw
    assert spawned.wall < 4.0, spawned.wall
    a, b = _verdict(proven), _verdict(waited)
    assert type(a) is type(b) is verdicts.Deadlock
    assert a.message.replace(proven.waited, "N s") == b.message.replace(waited.waited, "N s")


def _dine(module, n, meals):
    return module.run(n, meals)


def test_an_asyncio_deadlock_ends_the_run_when_the_check_proves_it(tmp_path):
    """The asyncio check proves a loop nothing can wake (grader.checks.asyncio_watch) and says so
    at once: the run is stopped then, with the verdict and message of the run that waited out
    its timeout, instead of at the timeout."""
    from contextlib import ExitStack

    from grader.judge.expect_asyncio import expect_no_asyncio_deadlock

    with ExitStack() as stack:
        student = _student(tmp_path / "s", BUGS / "asyncio_lock_inversion" / "bug.py", stack)
        proven = student.reply(_dine, 5, 3, checks={"asyncio": {}}, timeout=3)
        call = student.session.call
        student.session.call = lambda request: call({**request, "prove_deadlock": False})
        waited = student.reply(_dine, 5, 3, checks={"asyncio": {}}, timeout=3)
    assert proven.status == waited.status == "timeout"
    assert proven.raw["deadlock_proof"]["kind"] == "asyncio" and "deadlock_proof" not in waited.raw
    assert proven.wall < 1.5 and waited.wall >= 3.0, (proven.wall, waited.wall)
    messages = []
    for reply in (proven, waited):
        with pytest.raises(verdicts.Deadlock) as caught:
            expect_no_asyncio_deadlock(reply, "run(5, 3)")
        messages.append(caught.value.message)
    assert messages[0] == messages[1] and "asyncio deadlock" in messages[0]


# ---------------------------------------------------------------- MPI (strict mode)


def _board(path: Path, state: int, call: int, polls: int, extra: int = 0) -> None:
    from grader.checks.mpi_setup import WaitBoard

    path.write_bytes(WaitBoard.RECORD.pack(
        WaitBoard.MAGIC, state, extra, call, polls, -1, 0, WaitBoard.NONE, -3, 0, -3, 0, 0, call
    ))  # fmt: skip


def _watch_after(tmp_path, first, second, hold=0.0):
    """MpiStuckWatch's word after two looks at the boards `first` then `second`
    ({rank: (state, call, polls, extra)})."""
    from grader.agent import mpi_stuck

    watch = mpi_stuck.MpiStuckWatch(str(tmp_path), len(first), hold=hold)
    for boards in (first, second):
        for rank, record in boards.items():
            _board(tmp_path / f"mpi-wait-{100 + rank}.bin", *record)
        proof = watch.check()
    return proof


IN, OUT, DONE = 1, 0, 2
ENOUGH = 10  # polls: more than polls_needed(2 or 3)


@pytest.mark.parametrize(
    "second, why",
    [
        ({0: (IN, 1, ENOUGH, 0), 1: (OUT, 1, 0, 0)}, "a rank left its call"),
        ({0: (IN, 1, ENOUGH, 0), 1: (IN, 2, ENOUGH, 0)}, "a rank is in another call"),
        ({0: (IN, 1, ENOUGH, 0), 1: (IN, 1, 2, 0)}, "a rank did not poll enough"),
        ({0: (IN, 1, ENOUGH, 0), 1: (IN, 1, ENOUGH, 1)}, "a rank has another thread"),
        ({0: (DONE, 1, 0, 0), 1: (DONE, 1, 0, 0)}, "every rank returned"),
    ],
)
def test_mpi_boards_that_could_still_move_prove_nothing(tmp_path, second, why):
    first = {0: (IN, 1, 0, 0), 1: (IN, 1, 0, 0)}
    assert _watch_after(tmp_path, first, second) is None, why


def test_a_rank_without_a_board_proves_nothing(tmp_path):
    from grader.agent import mpi_stuck

    watch = mpi_stuck.MpiStuckWatch(str(tmp_path), 2, hold=0.0)
    _board(tmp_path / "mpi-wait-100.bin", IN, 1, 0)
    assert watch.check() is None
    _board(tmp_path / "mpi-wait-100.bin", IN, 1, ENOUGH)
    assert watch.check() is None


def test_mpi_boards_still_in_the_same_calls_after_enough_polls_prove_a_deadlock(tmp_path):
    first = {0: (IN, 4, 0, 0), 1: (IN, 7, 1, 0), 2: (DONE, 3, 0, 0)}
    second = {0: (IN, 4, ENOUGH, 0), 1: (IN, 7, ENOUGH + 1, 0), 2: (DONE, 3, 0, 0)}
    proof = _watch_after(tmp_path, first, second)
    assert proof is not None and (proof["waiting"], proof["returned"]) == (2, 1)


def test_a_malformed_board_proves_nothing(tmp_path):
    from grader.agent import mpi_stuck

    (tmp_path / "mpi-wait-1.bin").write_bytes(b"\xff" * 7)
    _board(tmp_path / "mpi-wait-2.bin", IN, 1, 50)
    watch = mpi_stuck.MpiStuckWatch(str(tmp_path), 2, hold=0.0)
    assert watch.check() is None and watch.check() is None


def _exchange(module, *args):
    from mpi4py import MPI

    return module.run(MPI.COMM_WORLD, *args)


MPI_HANGS = [
    ("mpi_send_send", 2, (10,)),
    ("mpi_recv_recv", 2, (10,)),
    ("mpi_barrier_skipped", 3, ()),
]


@pytest.mark.slow
@pytest.mark.parametrize("name, ranks, args", MPI_HANGS)
def test_an_mpi_deadlock_in_strict_mode_is_proven_and_its_twin_never(tmp_path, name, ranks, args):
    """The hang-shaped MPI bugs of tests/bugs end as soon as every rank waits in a call that can
    no longer match, with the verdict and message of the run that waited out its timeout; their
    correct twins (same calls, matched) pass every time with the proof on."""
    from contextlib import ExitStack

    from grader.judge.expect_mpi import mpi_hang_verdict

    pytest.importorskip("mpi4py")
    with ExitStack() as stack:
        student = _student(tmp_path / "s", BUGS / name / "bug.py", stack)
        proven = student.reply(_exchange, *args, ranks=ranks, mpi={"strict": True}, timeout=4)
        call = student.session.call
        student.session.call = lambda request: call({**request, "prove_deadlock": False})
        waited = student.reply(_exchange, *args, ranks=ranks, mpi={"strict": True}, timeout=4)
        twin = _student(tmp_path / "t", BUGS / name / "twin.py", stack)
        for _ in range(3):
            ok = twin.reply(_exchange, *args, ranks=ranks, mpi={"strict": True}, timeout=4)
            assert ok.status == "ok" and "deadlock_proof" not in ok.raw, ok.raw.get("message")
    assert proven.raw["deadlock_proof"]["kind"] == "mpi"
    assert proven.raw["wall"] < 4.0 <= waited.raw["wall"], (proven.raw["wall"], waited.raw["wall"])
    messages = []
    for reply in (proven, waited):
        with pytest.raises(verdicts.Deadlock) as caught:
            mpi_hang_verdict(reply, ranks, True)
        messages.append(caught.value.message.replace(reply.waited, "N s"))
    assert messages[0] == messages[1]


@pytest.mark.slow
def test_on_docker_an_mpi_deadlock_is_proven(docker_backend, tmp_path):
    """In the real sandbox the ranks run as the student's uid and the supervisor is a root with
    no capability to override file modes: it must still read their wait boards (a board made
    0600 was never read there, and no MPI run was ever proven on Docker)."""
    with sandbox_student(
        docker_backend, tmp_path / "s", (BUGS / "mpi_send_send" / "bug.py").read_text()
    ) as student:
        reply = student.reply(_exchange, 10, ranks=2, mpi={"strict": True}, timeout=4)
    assert reply.raw.get("deadlock_proof", {}).get("kind") == "mpi", reply.raw.get("message")
    assert reply.raw["wall"] < 4.0
