"""Hidden tests for pipe_pipeline.

Every call goes through the probe `_squares`, which also counts the Pipes and processes that
`pipeline_squares` creates. A run that hangs is explained in words about pipe ends (`_run`):
a reader only sees EOF once every copy of the pipe's write end, in every process, is closed.
"""

import random

from grader.testing import Deadlock, Failed, StudentError, expect_equal, requirement

TIMEOUT = 4  # seconds per request; the reference needs well under 1 s

EOF_HINT = ("A reader sees EOF (recv() raises EOFError) only when every copy of the pipe's "
            "write end is closed, in every process: a child started with fork or spawn gets its "
            "own copy of each connection it is given (or inherits), so the parent must close the "
            "ends it does not use right after starting the children, and the square stage must "
            "close its copy of the first pipe's write end before it reads.")
SPAWN_HINT = ("Your code works only under fork: under spawn (the default on macOS and Windows) a "
              "new process is a fresh interpreter that receives its target by name, so it cannot "
              "find a function defined inside another function, or a lambda. Make every stage a "
              "top-level function of solution.py and pass the pipes in args=.")


def _squares(mod, n):
    """pipeline_squares(n), with the Pipes it created and the processes it started. A Pipe is
    counted by its two Connections (the spy is on the class, so `from multiprocessing.connection
    import Pipe`, bound before the probe ran, is counted too; a child's own are its own)."""
    import multiprocessing.connection
    import multiprocessing.process

    counts = {"connections": 0, "starts": 0}
    Connection = multiprocessing.connection.Connection
    own = Connection.__dict__.get("__init__")  # None: inherited from its base class
    init, start = Connection.__init__, multiprocessing.process.BaseProcess.start

    def counting_init(self, *a, **k):
        counts["connections"] += 1
        return init(self, *a, **k)

    def counting_start(self):
        counts["starts"] += 1
        return start(self)

    Connection.__init__ = counting_init
    multiprocessing.process.BaseProcess.start = counting_start
    try:
        got = mod.pipeline_squares(n)
    finally:
        if own is None:
            del Connection.__init__
        else:
            Connection.__init__ = own
        multiprocessing.process.BaseProcess.start = start
    return {"value": got, "pipes": counts["connections"] // 2, "starts": counts["starts"]}


def _sent(mod, n):
    """pipeline_squares(n) with every message a Connection sends and receives logged by the
    process that sent or received it (a file per process and direction: every child is forked,
    whatever start method the student's code chose, and inherits the spies): {"sent": {pid:
    [values]}, "received": {pid: [values]}, "eof": [pids whose recv raised EOFError]} and the
    caller's pid.
    The spies sit on _send_bytes and _recv_bytes, which send, send_bytes, recv and recv_bytes
    all go through; a message written to the descriptor by hand is still received."""
    import multiprocessing.connection
    import os
    import pickle
    import tempfile

    from grader.checks.startmethod import forked

    log = tempfile.mkdtemp()
    Connection = multiprocessing.connection.Connection
    send, recv = Connection._send_bytes, Connection._recv_bytes

    def shown(data):
        try:
            return repr(pickle.loads(data))
        except Exception:  # noqa: BLE001 - raw bytes (send_bytes of something not pickled)
            return repr(bytes(data))

    def write(direction, data):
        with open(os.path.join(log, f"{direction}-{os.getpid()}"), "a") as f:
            f.write(shown(data) + "\n")

    def logged_send(self, buf):
        write("sent", buf)
        return send(self, buf)

    def logged_recv(self, maxsize=None):
        try:
            out = recv(self, maxsize)
        except EOFError:  # the reader learnt that every write end is closed
            open(os.path.join(log, f"eof-{os.getpid()}"), "a").close()
            raise
        write("received", out.getbuffer())
        return out

    Connection._send_bytes, Connection._recv_bytes = logged_send, logged_recv
    try:
        with forked():
            got = mod.pipeline_squares(n)
    finally:
        Connection._send_bytes, Connection._recv_bytes = send, recv
    logs = {"sent": {}, "received": {}, "eof": {}}
    for name in os.listdir(log):
        direction, pid = name.split("-")
        with open(os.path.join(log, name)) as f:
            logs[direction][pid] = f.read().split("\n")[:-1][:200]
    logs["eof"] = sorted(logs.pop("eof"))
    return {"value": got, **logs, "caller": str(os.getpid())}


def _run(student, n, start_method="fork"):
    what = f"pipeline_squares({n})" + (" under spawn" if start_method == "spawn" else "")
    try:
        out = student.run(_squares, n, start_method=start_method, timeout=TIMEOUT, what=what)
    except Deadlock as exc:
        raise Deadlock(f"{exc.message} {EOF_HINT}", **exc.details) from None
    except StudentError as exc:
        text = exc.message
        if start_method == "spawn" and ("pickle" in text.lower() or "AttributeError" in text):
            raise StudentError(f"{text} {SPAWN_HINT}", **exc.details) from None
        if "EOFError" in text and n == 0:
            raise StudentError(f"{text} With n = 0 no number goes through the pipeline: read "
                               "until EOFError (the pipe was closed), do not wait for a "
                               "particular last value.", **exc.details) from None
        raise
    expect_equal(out["value"], [i * i for i in range(n)], what)
    return out


@requirement("caller")
def test_small_n(student):
    """pipeline_squares(n) for a few small n"""
    for n in (1, 2, 7):
        _run(student, n)


@requirement("sizes")
def test_zero_items(student):
    """pipeline_squares(0) returns [] and every process ends"""
    _run(student, 0)


@requirement("sizes")
def test_long_stream(student, seed):
    """A stream far longer than a pipe's buffer (the stages must run at the same time)"""
    _run(student, 15000 + random.Random(seed).randrange(1000))


@requirement("two-pipes")
def test_two_pipes_two_children(student):
    """Three processes (the caller and two children) joined by two Pipes"""
    out = _run(student, 5)
    if out["pipes"] != 2 or out["starts"] != 2:
        raise Failed(f"pipeline_squares(5) created {out['pipes']} Pipe(s) and started "
                     f"{out['starts']} process(es); the pipeline is: a producer process sends "
                     "0..n-1 into the first Pipe, a square process sends the squares into the "
                     "second Pipe, and the caller reads them: 2 Pipes, 2 started processes.",
                     pipes=out["pipes"], starts=out["starts"])


@requirement("caller")
def test_no_process_left(student):
    """Both child processes have ended and been joined when pipeline_squares returns"""
    _run(student, 20)
    left = student.last.leftover_processes or []
    if left:
        raise Failed(f"When pipeline_squares(20) returned, {len(left)} of its processes were "
                     "still there: join both stages (after reading everything from the second "
                     "pipe).", leftover_processes=left)


@requirement("top-level")
def test_runs_under_spawn(student, seed):
    """Works under the spawn start method (the default on macOS and Windows)"""
    _run(student, 3 + random.Random(seed).randrange(20), start_method="spawn")


@requirement("producer", "squarer", "no-end-value", "caller")
def test_each_stage_sends_its_own_values(student):
    """The producer sends 0..n-1, the square process the squares, and nobody an end marker;
    the readers read until EOFError"""
    n = 6
    what = f"pipeline_squares({n})"
    out = student.run(_sent, n, timeout=TIMEOUT, what=what)
    expect_equal(out["value"], [i * i for i in range(n)], what)
    numbers, squares = [repr(i) for i in range(n)], [repr(i * i) for i in range(n)]
    sent = {pid: msgs for pid, msgs in out["sent"].items() if msgs}
    by_caller = sent.pop(out["caller"], [])
    extra = [m for msgs in sent.values() for m in msgs if m not in numbers + squares]
    if extra or by_caller:
        what_extra = (f"the caller itself sent {by_caller[:3]}" if by_caller else
                      f"a stage sent {extra[:3]}, which is neither a number nor a square")
        raise Failed(f"In {what}, {what_extra}. Only the producer (0..n-1) and the square process "
                     "(the squares) send anything, and nobody sends an end marker: the reader "
                     "learns that the stream is over when recv() raises EOFError, once every "
                     "write end of the pipe is closed.", sent=out["sent"])
    if sorted(sent.values()) != sorted([numbers, squares]):
        shown = "; ".join(f"one process sent {msgs[:8]}" for msgs in sent.values()) or "none"
        raise Failed(f"In {what}, the child processes sent: {shown}. The producer must send "
                     f"{list(range(n))} into the first pipe and the square process must send each "
                     f"square ({[i * i for i in range(n)]}) into the second: the squaring is the "
                     "square process's work, not the caller's.", sent=out["sent"])
    # What arrived, whatever way it was written (tests/attacks/pipe_marker_send_bytes): the
    # square process receives exactly 0..n-1, the caller exactly the squares, nobody else a thing.
    received = {pid: msgs for pid, msgs in out["received"].items() if msgs}
    by_caller = received.pop(out["caller"], [])
    if by_caller != squares or list(received.values()) != [numbers]:
        shown = "; ".join(f"a child received {msgs[:8]}" for msgs in received.values())
        raise Failed(f"In {what}, the caller received {by_caller[:8]}"
                     + (f" and {shown}" if shown else "") + ". The square process must receive "
                     f"exactly {list(range(n))} and then EOF (no end marker), and the caller "
                     f"exactly the squares {[i * i for i in range(n)]}, whatever way they are "
                     "written into the pipes.", received=out["received"])
    # Both readers learn the end from the closed pipe, not from a count they were told
    # (a reader that stops after n values gets them right but never sees the end of the stream)
    for who, pid in (("the square process", next(iter(received))), ("the caller", out["caller"])):
        if pid not in out["eof"]:
            raise Failed(f"In {what}, {who} stopped reading before its pipe said the stream was "
                         "over: its recv() never raised EOFError. Do not count on knowing how "
                         "many values will come: read until recv() raises EOFError, which "
                         "happens once every write end of the pipe is closed.", eof=out["eof"])
