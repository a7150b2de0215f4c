"""Olga: workers pull indices, a poison pill per worker, results keyed by index."""

import multiprocessing as mp

STOP = "stop"


def fib(n):
    if n < 0:
        raise ValueError("n must be non-negative")
    prev, cur = 0, 1
    count = 0
    while count < n:
        prev, cur = cur, prev + cur
        count += 1
    return prev


def _worker(inbox, outbox, worker_id):
    handled = 0
    for item in iter(inbox.get, STOP):
        outbox.put((item, fib(item), worker_id))
        handled += 1
    outbox.put(("done", handled, worker_id))


def parallel_fib(values, n_consumers):
    todo = list(values)
    inbox, outbox = mp.Queue(), mp.Queue()
    procs = []
    for wid in range(n_consumers):
        proc = mp.Process(target=_worker, args=(inbox, outbox, wid), daemon=True)
        proc.start()
        procs.append(proc)
    for item in todo:
        inbox.put(item)
    for _ in procs:
        inbox.put(STOP)
    answers, finished = {}, 0
    while finished < len(procs):
        first, second, _ = outbox.get()
        if first == "done":
            finished += 1
        else:
            answers[first] = second
    for proc in procs:
        proc.join(timeout=30)
    return answers
