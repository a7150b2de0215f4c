"""Hidden tests for mp_queue_fibonacci.

Every test runs `parallel_fib` through the probe `_parallel_fib` and turns a reply that is
not a value into a verdict that names the queue bug behind it (`_explain`): values lost by a
consumer that stopped on `empty()`, a missing sentinel, join-before-drain, a target that
works only under fork, `qsize()` (not implemented on macOS).
"""

import random
import re

from grader.testing import (
    Deadlock, Failed, StudentError, Timeout, expect_equal, expect_no_child_exceptions, raise_for,
    requirement,
)

# Results are compared modulo this prime (see _parallel_fib): a result crosses from the sandbox
# as data of at most 64 bits, and fib(n) has more from n = 93 on (fib(n) < DIGEST is unchanged).
DIGEST = 2**61 - 1
TIMEOUT = 6  # seconds per request (spawn and big results: 8); the reference needs at most ~1 s
# Every test hands the values over at a realistic pace: SLOW = seconds to pickle (put on a queue)
# each of the first three values, each of the middle ones, and each of the last two. Consumers
# then find the task queue empty for a moment again and again, and are all idle while the last
# value is on its way: a stop test on empty() or qsize() fails every time, not now and then.
SLOW = (0.03, 0.005, 0.03)


def _fib(n):
    a, b = 0, 1
    for _ in range(n):
        a, b = b, a + b
    return a


def _expected(values, digest=DIGEST):
    return {n: (_fib(n) % digest if digest else _fib(n)) for n in values}


# ---------------------------------------------------------------- the probe (runs in the sandbox)

def _parallel_fib(mod, values, n_consumers, slow, no_qsize, digest, baseline=False, watch=False):
    import multiprocessing.queues
    import time

    import contextlib

    from grader.checks.startmethod import forked

    if watch:  # every child forked: the children inherit the patched queues and the log's path
        import multiprocessing.process
        import os
        import tempfile

        caller, (fd, log), started = os.getpid(), tempfile.mkstemp(), []
        os.close(fd)

        def note(op, queue):
            """One line per put or successful get on a multiprocessing queue, any process."""
            with open(log, "a") as f:
                f.write(f"{os.getpid()} {op} {id(queue)}\n")

        def watched(cls, name, op):
            original = cls.__dict__[name]

            def wrapper(self, *args, **kwargs):
                item = original(self, *args, **kwargs)
                note(op, self)
                return item

            setattr(cls, name, wrapper)

        for cls in (multiprocessing.queues.Queue, multiprocessing.queues.JoinableQueue):
            if "put" in cls.__dict__:
                watched(cls, "put", "put")
        watched(multiprocessing.queues.Queue, "get", "get")
        start = multiprocessing.process.BaseProcess.start

        def start_noted(self):
            if os.getpid() == caller:
                started.append(self)
            return start(self)

        multiprocessing.process.BaseProcess.start = start_noted

    own_cpu = None
    if baseline:  # the CPU it takes this process to compute every value once, before the call
        cpu0 = time.process_time()
        for n in values:
            a, b = 0, 1
            for _ in range(n):
                a, b = b, a + b
        own_cpu = time.process_time() - cpu0

    if slow:
        import os

        def children_idle():
            """Every child of this process asleep (waiting, e.g. in get()) or ended, on two
            looks in a row: the consumers have taken all they were given and look for more."""
            me = str(os.getpid())
            for pid in (p for p in os.listdir("/proc") if p.isdigit()):
                try:
                    with open(f"/proc/{pid}/stat") as f:
                        fields = f.read().rsplit(")", 1)[1].split()
                except (OSError, IndexError):
                    continue
                if fields[1] == me and fields[0] not in "SZXtTI":
                    return False
            return True

        def await_idle(limit=2.0):
            """Hand the last values over only when every consumer is idle, however loaded the
            machine: a consumer that stops on empty() then has stopped, on every run."""
            end, quiet = time.monotonic() + limit, 0
            while quiet < 2 and time.monotonic() < end:
                quiet = quiet + 1 if children_idle() else 0
                time.sleep(0.01)

        class SlowInt(int):
            """An int that takes `delay` seconds to pickle: whoever puts it on a
            multiprocessing.Queue hands it over slowly (the queue's feeder thread pickles it),
            like a producer that reads its values from a slow source. The consumer receives
            a plain int. The first of the last two waits for idle consumers first."""

            def __reduce__(self):
                if getattr(self, "last", False):
                    await_idle()
                time.sleep(self.delay)
                return (int, (int(self),))

        head, middle, tail = slow  # seconds for the first three, the others, the last two
        slow_values = []
        for i, v in enumerate(values):
            x = SlowInt(v)
            x.delay = tail if i >= len(values) - 2 else head if i < 3 else middle
            x.last = i == len(values) - 2
            slow_values.append(x)
        values = slow_values
    if no_qsize:
        def qsize(self):  # what macOS does: sem_getvalue() is not implemented there
            raise NotImplementedError("Queue.qsize() is not implemented on macOS")

        multiprocessing.queues.Queue.qsize = qsize
    cpu0 = time.process_time()
    with forked() if watch else contextlib.nullcontext():  # whatever start method it chose
        got = mod.parallel_fib(values, n_consumers)
    call_cpu = time.process_time() - cpu0
    if type(got) is dict:  # keys the parent took from `values` are SlowInts: plain ints please
        got = {(int(k) if isinstance(k, int) and not isinstance(k, bool) else k): v
               for k, v in got.items()}
        if digest:  # fib(n) mod a prime: a result crosses as data of at most 64 bits
            got = {k: (v % digest if type(v) is int else v) for k, v in got.items()}
    out = {"value": got, "call_cpu": call_cpu, "agent_cpu": time.process_time(),
           "own_cpu": own_cpu}
    if watch:
        with open(log) as f:
            events = [line.split() for line in f]
        os.unlink(log)
        # task queues: those child processes took items from; their consumers: those children
        task_queues = {q for pid, op, q in events if op == "get" and int(pid) != caller}
        out["consumers"] = len({pid for pid, op, q in events
                                if op == "get" and q in task_queues and int(pid) != caller})
        out["task_puts"] = sum(1 for _, op, q in events if op == "put" and q in task_queues)
        out["exit_codes"] = [p.exitcode for p in started]
    return out


# ---------------------------------------------------------------- judge-side helpers

def _short(values, limit=6):
    if len(values) <= limit:
        return repr(list(values))
    return "[" + ", ".join(map(str, values[:limit])) + f", ... ({len(values)} values)]"


def _run(student, values, n_consumers, *, start_method="fork", slow=SLOW, no_qsize=False,
         digest=DIGEST, timeout=TIMEOUT, baseline=False, watch=False):
    """parallel_fib's value and the probe's measurements, or a verdict that explains the bug.
    `watch` (every process forked, whatever start method the student's code chose, so that
    the children inherit the probe's patches): also which processes took items off which
    queues, how many items were put on the task queues, and the exit codes of the processes
    the caller started."""
    what = f"parallel_fib({_short(values)}, {n_consumers}) under the {start_method} start method"
    reply = student.reply(_parallel_fib, list(values), n_consumers, slow, no_qsize, digest,
                          baseline, watch, start_method=start_method, timeout=timeout, what=what)
    if reply.status != "ok":
        _explain(reply, start_method)
    out = reply.value
    return out["value"], out


def _location(frames):
    mine = [f for f in frames if f.get("student")]
    if not mine:
        return ""
    f = mine[-1]
    return f"{f['file']} line {f['line']}" + (f" (`{f['code']}`)" if f.get("code") else "")


def _callee(frames):
    """The name of the library function the innermost student frame is waiting in."""
    idx = [i for i, f in enumerate(frames) if f.get("student")]
    if not idx or idx[-1] + 1 >= len(frames):
        return ""
    return frames[idx[-1] + 1]["name"]


def _is_child(proc):
    return any(f["name"] == "_bootstrap" and f["file"].endswith("multiprocessing/process.py")
               for t in proc["threads"] for f in t["frames"])


def _child_error(stderr):
    """(error line, " (solution.py line N: `code`)") of the first traceback that a child process
    printed to stderr (children's tracebacks may be interleaved), or None."""
    if not re.search(r"^Process [^\n]*:$", stderr, flags=re.M) or "Traceback" not in stderr:
        return None
    lines = stderr.splitlines()
    start = next(i for i, ln in enumerate(lines) if ln.startswith("Traceback"))
    errors = [ln.strip() for ln in lines[start:]
              if ln.strip() and not ln.startswith((" ", "Traceback", "Process "))]
    if not errors:
        return None
    where = ""
    for i, ln in enumerate(lines):
        m = re.match(r'\s*File "[^"]*/(solution\.py)", line (\d+)', ln)
        if m:
            code = lines[i + 1].strip() if i + 1 < len(lines) else ""
            where = f" ({m[1]} line {m[2]}" + (f": `{code}`)" if code else ")")
            break
    return errors[0], where


SPAWN_HINT = ("Your code works only under fork: under spawn (the default on macOS and Windows; "
              "forkserver, the Linux default from Python 3.14, has the same rule) a new process "
              "is a fresh Python interpreter that receives its target by name, so it cannot find "
              "a function defined inside another function, or a lambda. Make the consumer (and "
              "any producer) top-level functions of solution.py and pass the queues in args=.")

QSIZE_HINT = ("`Queue.qsize()` raises NotImplementedError on macOS (and `empty()`/`qsize()` only "
              "say what the queue held a moment ago anyway). Stop a consumer when it takes a "
              "sentinel, and collect exactly len(values) results.")

EMPTY_HINT = ("`queue.empty()` (or `qsize() == 0`) is only a snapshot: it is also true when the "
              "producer has simply not put the next value *yet*, which is not the same as \"no "
              "more values will come\". Stop a consumer only when it takes a sentinel from the "
              "task queue (put one per consumer after the last value).")


def _explain(reply, start_method):
    """Raise the verdict for a reply that is not a value, in words about queues and processes."""
    what = reply.what
    if reply.status in ("exception", "import-error"):
        exc = reply.exception or {}
        text = f"{exc.get('type')}: {exc.get('message')}"
        codes = " ".join(f.get("code", "") for f in exc.get("frames", []))
        where = _location(exc.get("frames", []))
        where = f" at {where}" if where else ""
        if start_method != "fork" and "pickle" in text.lower():
            raise StudentError(f"{what} raised {text}{where}. {SPAWN_HINT}", exception=exc)
        if exc.get("type") == "NotImplementedError" and ("qsize" in text or "qsize" in codes):
            raise StudentError(f"{what} raised {text}{where}. {QSIZE_HINT}", exception=exc)
        raise_for(reply)
    if reply.status != "timeout":
        raise_for(reply)
    stacks = reply.stacks
    secs = reply.waited
    child = _child_error(reply.stderr)
    if child:
        error, where = child
        hint = ""
        if "NotImplementedError" in error and "qsize" in error + where:
            hint = " " + QSIZE_HINT
        elif start_method != "fork" and ("AttributeError" in error or "pickle" in error.lower()):
            hint = " " + SPAWN_HINT
        raise StudentError(f"In {what}, a child process raised {error}{where}, so its results "
                           f"never came and parallel_fib waited for them until it was stopped "
                           f"after {secs}.{hint}", child_error=error)
    try:
        raise_for(reply)  # Timeout (busy) or Deadlock (no CPU), judged by the supervisor
    except Timeout as exc:
        raise Timeout(exc.message + " Wait with a blocking `get()` instead of polling `empty()` "
                      "in a loop.", **exc.details) from None
    except Deadlock:
        pass  # name the queue bug below
    parents = [p for p in stacks if not _is_child(p)]
    children = [p for p in stacks if _is_child(p)]
    parent_threads = [t for p in parents for t in p["threads"]
                      if any(f.get("student") for f in t["frames"])]
    if not parent_threads:
        raise_for(reply)
    frames = parent_threads[0]["frames"]
    waits_in, at = _callee(frames), _location(frames)
    feeder_blocked = any(t["frames"] and t["frames"][-1]["name"] in ("_send", "_send_bytes")
                         for p in children for t in p["threads"])
    child_waits = [_location(t["frames"]) for p in children for t in p["threads"]
                   if _callee(t["frames"]) == "get"]
    head = f"{what} never returned (stopped after {secs}, using no CPU): "
    if waits_in == "join" and feeder_blocked:
        raise Deadlock(head + f"it waits in `join()` at {at} for a consumer that cannot end, "
                       "because the results it put are still in the result queue and nobody "
                       "reads them. A process that has put data on a multiprocessing.Queue does "
                       "not end until that data has been taken off the queue (the pipe behind "
                       "it holds only about 64 KB). Take all len(values) results off the result "
                       "queue first, then join the processes.", stacks=stacks)
    if waits_in == "join" and child_waits:
        raise Deadlock(head + f"it waits in `join()` at {at} while a consumer is still waiting "
                       f"for more work at {child_waits[0]}. Every consumer needs its own "
                       "sentinel: after the last value, put one sentinel per consumer on the "
                       "task queue, so that each one leaves its loop. (A consumer that tests "
                       "`empty()` or `qsize()` before it calls `get()` ends up here too: another "
                       "consumer took the last value between the test and the `get()`.)",
                       stacks=stacks)
    if waits_in == "get" and not children and start_method == "fork":
        raise Deadlock(head + f"it was still waiting for results at {at}, but every process it "
                       "had started had already finished, so those results could never come: "
                       "values were lost, because a consumer stopped before the producer had "
                       f"put all of them. {EMPTY_HINT}", stacks=stacks)
    try:
        raise_for(reply)
    except Deadlock as exc:
        raise Deadlock(exc.message + " Check that each consumer receives its own sentinel, that "
                       "no consumer stops early (for example on `empty()`), and that the parent "
                       "takes all len(values) results off the result queue before it joins the "
                       "processes.", **exc.details) from None


def _leftovers(reply):
    """The student's processes still alive after the call (multiprocessing's own helpers are
    already left out by the sandbox)."""
    return reply.leftover_processes or []


# ---------------------------------------------------------------- tests

@requirement("values")
def test_small_inputs(student):
    """Small inputs give {n: fib(n)}"""
    for values, n in [([0, 1, 2, 3, 10, 25], 3), ([1, 20, 40, 60], 2)]:
        got, _ = _run(student, values, n)
        expect_equal(got, _expected(values), f"parallel_fib({values}, {n})")


@requirement("edge-inputs")
def test_duplicate_values(student):
    """Repeated values are fine: each key appears once in the dict"""
    values = [7, 7, 3, 7, 3, 0, 12, 12]
    got, _ = _run(student, values, 3)
    expect_equal(got, _expected(values), f"parallel_fib({values}, 3)",
                 hint="A value that appears twice is computed twice and put twice on the result "
                      "queue: collect len(values) results, the dict keeps one entry per key.")


@requirement("edge-inputs")
def test_empty_values(student):
    """No values: an empty dict, and no process waits forever"""
    got, _ = _run(student, [], 3)
    expect_equal(got, {}, "parallel_fib([], 3)",
                 hint="With no values the consumers only get their sentinels.")


@requirement("edge-inputs")
def test_more_consumers_than_values(student, seed):
    """More consumers than values: the idle consumers stop too"""
    rng = random.Random(seed)
    for count, n in [(2, 6), (1, 4)]:
        values = rng.sample(range(5, 90), count)
        got, _ = _run(student, values, n)
        expect_equal(got, _expected(values), f"parallel_fib({values}, {n})")


@requirement("spawn")
def test_runs_under_spawn(student, seed):
    """Works under the spawn start method (the default on macOS and Windows)"""
    values = random.Random(seed).sample(range(0, 400), 8)
    got, _ = _run(student, values, 3, start_method="spawn", slow=(0.12, 0.12, 0.12), timeout=8)
    expect_equal(got, _expected(values), f"parallel_fib({values}, 3) under spawn")


@requirement("sentinels")
def test_slow_producer_loses_nothing(student, seed):
    """No value is lost when the producer is slower than the consumers"""
    values = random.Random(seed).sample(range(0, 200), 12)
    got, out = _run(student, values, 4, slow=(0.04, 0.04, 0.04), watch=True)
    if type(got) is dict and set(got) < set(values):
        missing = sorted(set(values) - set(got))
        raise Failed(f"parallel_fib({_short(values)}, 4), with a producer that puts one value "
                     f"about every 40 ms, returned no result for {_short(missing)}: those values "
                     f"were lost. {EMPTY_HINT}", missing=missing)
    expect_equal(got, _expected(values), f"parallel_fib({_short(values)}, 4) with a slow producer")
    sentinels, consumers = out["task_puts"] - len(values), out["consumers"]
    if sentinels < consumers:  # how many consumers there are is judged in test_starts_n_consumers
        raise Failed(f"parallel_fib({_short(values)}, 4) put {out['task_puts']} items on the task "
                     f"queue for {len(values)} values: {max(sentinels, 0)} sentinel(s) for "
                     f"{consumers} consumers. A consumer that stops without taking a sentinel (on a get() "
                     "timeout, or when the queue looks empty) stopped here only because the "
                     "producer was quick enough: a longer pause loses values. Put one sentinel per "
                     "consumer after the last value, and stop a consumer when it takes one.",
                     task_puts=out["task_puts"], values=len(values), consumers=consumers)


@requirement("drain-then-join")
def test_results_larger_than_the_pipe(student, seed):
    """Results that do not fit in the queue's pipe: drain before join"""
    values = list(range(20000, 20070))  # about 120 KB of results; a pipe holds 64 KB
    random.Random(seed).shuffle(values)
    got, _ = _run(student, values, 3, slow=(0.03, 0.005, 0.1), digest=DIGEST, timeout=8)
    expect_equal(got, _expected(values, DIGEST), f"parallel_fib({_short(values)}, 3) (each "
                 f"value shown modulo {DIGEST})")


@requirement("portable")
def test_portable_without_qsize(student):
    """Does not need Queue.qsize(), which raises NotImplementedError on macOS"""
    values = [4, 9, 16, 25, 36, 49]
    got, _ = _run(student, values, 2, no_qsize=True)
    expect_equal(got, _expected(values), f"parallel_fib({values}, 2) with qsize() as on macOS")


@requirement("in-consumers")
def test_work_done_in_child_processes(student):
    """The Fibonacci numbers are computed in the consumer processes, not in the parent"""
    values = [60000, 60001, 60002, 60003, 60004]
    got, out = _run(student, values, 3, slow=(0.03, 0.03, 0.2), digest=DIGEST, baseline=True)
    expect_equal(got, _expected(values, DIGEST), f"parallel_fib({_short(values)}, 3) (each "
                 f"value shown modulo {DIGEST})")
    parent, own = out["call_cpu"], out["own_cpu"]
    children = max(0.0, student.last.cpu - out["agent_cpu"])  # agent_cpu holds own too
    # Two measures: CPU the other processes spent proves nothing by itself (consumers may burn
    # it in a loop after the last value: tests/attacks/fib_busy_consumers), so the caller must
    # also have spent less than half of what computing every value once takes this process.
    if parent >= 0.5 * own:
        raise Failed(f"parallel_fib({_short(values)}, 3) used {parent:.2f} CPU-seconds in the "
                     f"calling process, at least half of what computing every fib(n) there once "
                     f"takes ({own:.2f}): the Fibonacci numbers were computed in the parent. The "
                     "consumers (separate multiprocessing.Process objects) must take the values "
                     "from the task queue and compute fib(n) themselves.",
                     parent_cpu=parent, computing_cpu=own, children_cpu=children)
    if children <= parent:
        raise Failed(f"parallel_fib({_short(values)}, 3) used {parent:.2f} CPU-seconds in the "
                     f"calling process and only {children:.2f} in all the other processes: the "
                     "Fibonacci numbers were computed in the parent. The consumers (separate "
                     "multiprocessing.Process objects) must take the values from the task queue "
                     "and compute fib(n) themselves.", parent_cpu=parent, children_cpu=children)


@requirement("drain-then-join")
def test_no_processes_left_running(student):
    """Every process that parallel_fib starts has ended and been joined when it returns"""
    values = [5, 10, 15, 20, 25, 30]
    got, _ = _run(student, values, 3)
    expect_equal(got, _expected(values), f"parallel_fib({values}, 3)")
    left = _leftovers(student.last)
    if left:
        raise Failed(f"When parallel_fib({values}, 3) returned, {len(left)} of the processes it "
                     "had started were still there (running, or finished but never joined). "
                     "Join every process you start before returning (after taking the results "
                     "off the result queue).", leftover_processes=left)


@requirement("n-consumers")
def test_starts_n_consumers(student, seed):
    """n_consumers consumer processes really run"""
    values = random.Random(seed).sample(range(0, 300), 10)
    got, out = _run(student, values, 4, slow=(0.04, 0.04, 0.04), watch=True)
    expect_equal(got, _expected(values), f"parallel_fib({_short(values)}, 4)")
    seen = student.last.processes - 1  # the caller's own process is one
    if seen < 4:
        raise Failed(f"parallel_fib({_short(values)}, 4) ran {max(seen, 0)} process(es) besides "
                     "the caller, but it must start 4 consumers: the work is meant to be shared "
                     "by n_consumers processes. Start one multiprocessing.Process per consumer "
                     "(and put one sentinel per consumer).", processes=seen)
    # Every consumer takes at least its sentinel off a task queue: fewer takers, fewer consumers
    if out["consumers"] < 4:
        raise Failed(f"parallel_fib({_short(values)}, 4) ran {seen} process(es) besides the "
                     f"caller, but only {out['consumers']} of them took anything off a task queue "
                     "(a multiprocessing.Queue): that is how many consumers there were, not 4. A "
                     "producer process, or a process that takes no values, is not a consumer. "
                     "Start n_consumers consumer processes, each taking values off the task queue "
                     "until it takes its sentinel.", processes=seen, consumers=out["consumers"])


@requirement("no-crash")
def test_no_consumer_crashes(student):
    """No consumer process ends with an exception, even when every result came back"""
    values = [3, 14, 15, 92, 65]
    got, out = _run(student, values, 2, watch=True)
    expect_no_child_exceptions(student.last, f"parallel_fib({values}, 2)",
                               submission=student.submission, hint="A consumer "
                               "must leave its loop when it takes the sentinel, before using it "
                               "as a value (fib(None) raises TypeError).")
    expect_equal(got, _expected(values), f"parallel_fib({values}, 2)")
    failed = [code for code in out["exit_codes"] if code]
    if failed:
        raise Failed(f"parallel_fib({values}, 2) returned the right dict, but "
                     f"{len(failed)} of the processes it started ended with exit code "
                     f"{failed[0]} (0 is a normal end): a process that raises, or calls "
                     "sys.exit() with a non-zero status, ends that way. A consumer leaves its "
                     "loop when it takes its sentinel, and its function simply returns.",
                     exit_codes=out["exit_codes"])
