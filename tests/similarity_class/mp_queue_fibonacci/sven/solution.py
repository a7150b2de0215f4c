"""Sven: every consumer sends its answers in one batch when it stops."""

from multiprocessing import Process, Queue


def fib(n):
    pair = (0, 1)
    for _ in range(n):
        pair = (pair[1], pair[0] + pair[1])
    return pair[0]


def consumer(tasks: Queue, results: Queue) -> None:
    batch = []
    while True:
        n = tasks.get()
        if n == -1:
            break
        batch.append((n, fib(n)))
    results.put(batch)


def parallel_fib(values, n_consumers):
    values = list(values)
    tasks, results = Queue(), Queue()
    consumers = [Process(target=consumer, args=(tasks, results)) for i in range(n_consumers)]
    for c in consumers:
        c.start()
    for v in values:
        tasks.put(v)
    for c in consumers:
        tasks.put(-1)
    out = {}
    for c in consumers:
        for n, f in results.get():
            out[n] = f
    for c in consumers:
        c.join()
    return out
