"""Probes of the planted-bug corpus that watch how the code works, not only its value: each runs
in the sandbox as `probe(module, *args)` (its source is sent there, so it imports what it needs
inside) and returns plain data that a grading function of `bugs.catalogue` judges."""

from __future__ import annotations


def fanout(mod, n, wait):
    """`mod.run(func, [(0,), ..., (n-1,)])` with a func that records the thread it ran in, waits
    (at most `wait` s in all) until all n calls are in flight, then sleeps so that later inputs
    finish first. Returns the value, the calls made in the caller's thread and the peak of
    calls in flight."""
    import threading
    import time

    caller, lock, state = threading.get_ident(), threading.Lock(), {"now": 0, "peak": 0}
    in_caller, deadline = [], time.monotonic() + wait
    everyone = threading.Condition(lock)

    def func(x):
        with lock:
            state["now"] += 1
            state["peak"] = max(state["peak"], state["now"])
            in_caller.append(threading.get_ident() == caller)
            everyone.notify_all()
            while state["now"] < n and time.monotonic() < deadline:
                everyone.wait(max(0.0, deadline - time.monotonic()))
        time.sleep(0.002 * (n - x))  # later inputs finish first
        with lock:
            state["now"] -= 1
        return x * x

    value = mod.run(func, [(x,) for x in range(n)])
    return {"value": value, "in_caller": sum(in_caller), "peak": state["peak"]}


def plain_fanout(mod, n):
    """`mod.run(pow, [(x, 2) ...])`: what a plain test would call."""
    return mod.run(pow, [(x, 2) for x in range(n)])


def overlap(mod, cls, method, wait, *args):
    """`mod.run(*args)` with `cls.method` (code that runs under the object's lock) wrapped: each
    call waits (at most `wait` s in all) until another call is inside it too. The value, and
    the most calls that were inside at once: 1 when every call waited for every other."""
    import threading
    import time

    klass = getattr(mod, cls)
    original = getattr(klass, method)
    lock = threading.Condition()
    state = {"now": 0, "peak": 0}
    deadline = time.monotonic() + wait

    def wrapped(self, *args, **kwargs):
        with lock:
            state["now"] += 1
            state["peak"] = max(state["peak"], state["now"])
            lock.notify_all()
            while state["now"] < 2 and time.monotonic() < deadline:
                lock.wait(max(0.0, deadline - time.monotonic()))
        try:
            return original(self, *args, **kwargs)
        finally:
            with lock:
                state["now"] -= 1

    setattr(klass, method, wrapped)
    try:
        return {"value": mod.run(*args), "peak": state["peak"]}
    finally:
        setattr(klass, method, original)


def buffer_peak(mod, capacity, n):
    """A producer puts n items into `mod.BoundedBuffer(capacity)` while a slow consumer takes
    them; the most items the buffer ever held (read after every put) and what was taken."""
    import threading
    import time

    buf = mod.BoundedBuffer(capacity)
    out, peak = [], [0]

    def consume():
        for _ in range(n):
            time.sleep(0.002)
            out.append(buf.get())

    consumer = threading.Thread(target=consume)
    consumer.start()
    for i in range(n):
        buf.put(i)
        with buf.cond:
            peak[0] = max(peak[0], len(buf.items))
    consumer.join()
    return {"peak": peak[0], "taken": out}


def slow_producer(mod, values, n_consumers, delay):
    """`mod.run(values, n_consumers)` with values that take `delay` s each to put on a
    multiprocessing.Queue (pickled slowly by its feeder thread), as from a slow source: the
    consumers find the queue empty for a moment again and again."""

    class SlowInt(int):
        def __reduce__(self):
            import time

            time.sleep(delay)
            return (int, (int(self),))

    got = mod.run([SlowInt(v) for v in values], n_consumers)
    return {int(k): v for k, v in got.items()}


def losers(mod, n):
    """`mod.first_success` over one fast and n slow coroutines; then, after the loop has turned
    a few times, which slow ones were cancelled (their `finally` ran) and which still run."""
    import asyncio

    async def main():
        state = {}

        def slow(i):
            async def go():
                state[i] = "running"
                try:
                    await asyncio.sleep(30)
                    state[i] = "finished"
                except asyncio.CancelledError:
                    state[i] = "cancelled"
                    raise
            return go

        async def fast():
            await asyncio.sleep(0.01)
            return "fast"

        value = await mod.first_success([fast] + [slow(i) for i in range(n)])
        for _ in range(5):
            await asyncio.sleep(0)
        running = sorted(i for i, s in state.items() if s == "running")
        for task in asyncio.all_tasks() - {asyncio.current_task()}:
            task.cancel()  # nothing of the probe's own may outlive it
        return {"value": value, "still_running": running}

    return asyncio.run(main())


def plain_fetch(mod, n, limit):
    """`mod.fetch_all(range(n), fetch, limit)` with an instant fetch: what a plain test calls."""
    import asyncio

    async def fetch(url):
        await asyncio.sleep(0)
        return f"<{url}>"

    return asyncio.run(mod.fetch_all(list(range(n)), fetch, limit))


def fetch_peak(mod, n, limit, wait):
    """`mod.fetch_all(range(n), fetch, limit)` with a fetch that counts the fetches in flight
    and waits (at most `wait` s in all) until `limit` are. The value and the peak in flight."""
    import asyncio
    import time

    async def main():
        state = {"now": 0, "peak": 0}
        deadline = time.monotonic() + wait

        async def fetch(url):
            state["now"] += 1
            state["peak"] = max(state["peak"], state["now"])
            while state["now"] < min(limit, n) and time.monotonic() < deadline:
                await asyncio.sleep(0.001)
            await asyncio.sleep(0.001)
            state["now"] -= 1
            return f"<{url}>"

        value = await mod.fetch_all(list(range(n)), fetch, limit)
        return {"value": value, "peak": state["peak"]}

    return asyncio.run(main())


def mpi_root_data(mod, data):
    """`mod.run(COMM_WORLD, data)` with data on rank 0 only."""
    from mpi4py import MPI

    comm = MPI.COMM_WORLD
    return mod.run(comm, data if comm.Get_rank() == 0 else None)


def items_in_processes(mod, tasks):
    """`mod.run(Item(churn), [(task,) ...])`: each call a grader work item (who ran it, when;
    sealed: only the grader's own work is recorded)."""
    from grader.checks.workitems import Item, churn

    return mod.run(Item(churn), [(tuple(task),) for task in tasks])


def plain_speedup(mod, n):
    """Sequential time of sum(range(n)) twice over the time of run(sum, the same two): a plain
    speedup test."""
    import time

    start = time.perf_counter()
    for _ in range(2):
        sum(range(n))
    sequential = time.perf_counter() - start
    start = time.perf_counter()
    mod.run(sum, [(range(n),), (range(n),)])
    return sequential / (time.perf_counter() - start)


def limited(mod, n, limit, wait):
    """`mod.run(func, range(n), limit)` with a func that waits (at most `wait` s in all) until
    more than `limit` calls are in flight: the value and the peak in flight."""
    import threading
    import time

    cond, state = threading.Condition(), {"now": 0, "peak": 0}
    deadline = time.monotonic() + wait

    def func(x):
        with cond:
            state["now"] += 1
            state["peak"] = max(state["peak"], state["now"])
            cond.notify_all()
            while state["now"] <= limit and time.monotonic() < deadline:
                cond.wait(max(0.0, deadline - time.monotonic()))
            state["now"] -= 1
            cond.notify_all()
        return -x

    return {"value": mod.run(func, list(range(n)), limit), "peak": state["peak"]}


def no_qsize(mod, *args):
    """`mod.run(*args)` with `multiprocessing.Queue.qsize()` raising as it does on macOS."""
    import multiprocessing.queues

    def qsize(self):
        raise NotImplementedError("Queue.qsize() is not implemented on macOS")

    multiprocessing.queues.Queue.qsize = qsize
    return mod.run(*args)


def plain_limited(mod, n, limit):
    """`mod.run(abs, [0, -1, ..., -(n-1)], limit)`: what a plain test calls."""
    return mod.run(abs, [-x for x in range(n)], limit)


def celery_eager(mod):
    """What a plain test of a Celery module does (Celery's own testing recipe): eager mode
    (every task at once in this process, no worker) with an in-memory broker and result backend
    in place of the app's own (no Redis here), each task and canvas called once."""
    mod.app.conf.update(task_always_eager=True, broker_url="memory://",
                        result_backend="cache+memory://")
    return [mod.add.delay(2, 3).get(), mod.mul.delay(6, 7).get(),
            mod.xsum.delay([1, 2, 3, 4]).get(), mod.sum_of_squares([1, 2, 3]).delay().get(),
            mod.pipeline(5).delay().get()]


def gpu_plain(mod, function, n):
    """`mod.<function>` on n floats (two arrays for an add, one for a sum), as a list."""
    import numpy as np

    x = np.arange(n, dtype=np.float32)
    if function == "gpu_matmul":
        square = np.arange(n * n, dtype=np.float32).reshape(n, n)
        return mod.gpu_matmul(square, square).tolist()
    if function == "gpu_sum":
        return float(mod.gpu_sum(x))
    return mod.gpu_vector_add(x, x).tolist()


def mpi_ring(mod, n):
    """`mod.ring_allreduce(comm, x)` with x = arange(n) * (rank + 1) on every rank, as a list."""
    import numpy as np
    from mpi4py import MPI

    comm = MPI.COMM_WORLD
    return np.asarray(mod.ring_allreduce(comm, np.arange(n) * (comm.rank + 1))).tolist()


def mpi_call(mod, name, *args):
    """`mod.<name>(COMM_WORLD, *args)` on every rank: what a plain MPI test calls."""
    from mpi4py import MPI

    return getattr(mod, name)(MPI.COMM_WORLD, *args)


def mpi_stats(mod, n):
    """`mod.distributed_stats(comm, data)` with `data` (0, 1, ..., n-1) on rank 0 only."""
    from mpi4py import MPI

    comm = MPI.COMM_WORLD
    data = [float(x) for x in range(n)] if comm.Get_rank() == 0 else None
    out = mod.distributed_stats(comm, data)
    return None if out is None else [float(v) for v in out]


def plain_lifecycle(mod, names):
    """`mod.run_named(os.getpid, names)` (a function that returns at once): plain call."""
    import os

    return mod.run_named(os.getpid, names)


def plain_gate(mod, n):
    """`mod.start_together(n, work)` with a work that returns at once: the start times."""
    return mod.start_together(n, lambda i: None)
