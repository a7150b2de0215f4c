"""Leo: Fibonacci numbers with a queue (after the book)."""

import multiprocessing


def fib(n):
    a, b = 0, 1
    for _ in range(n):
        a, b = b, a + b
    return a


def consumer(tasks, results):
    while not tasks.empty():  # check-then-act: "empty now" is not "no more values"
        n = tasks.get()
        results.put((n, fib(n)))


def parallel_fib(values, n_consumers):
    values = list(values)
    tasks = multiprocessing.Queue()
    results = multiprocessing.Queue()
    for n in values:
        tasks.put(n)
    consumers = [multiprocessing.Process(target=consumer, args=(tasks, results))
                 for _ in range(n_consumers)]
    for p in consumers:
        p.start()
    out = {}
    for _ in range(len(values)):
        n, f = results.get()
        out[n] = f
    for p in consumers:
        p.join()
    return out
