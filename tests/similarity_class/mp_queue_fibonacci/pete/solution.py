"""Pete's solution."""

import multiprocessing as mp

HALT = "stop"


def parallel_fib(numbers, consumers):
    # hand the numbers to the consumer processes and collect what they send back
    pending = list(numbers)
    requests, replies = mp.Queue(), mp.Queue()
    workers = []
    for ident in range(consumers):
        w = mp.Process(target=_consume, args=(requests, replies, ident), daemon=True)
        w.start()
        workers.append(w)
    for number in pending:
        requests.put(number)
    for _ in workers:
        requests.put(HALT)
    table, ended = {}, 0
    while ended < len(workers):
        key, value, _ = replies.get()
        if key == "done":
            ended += 1
        else:
            table[key] = value
    for w in workers:
        w.join(timeout=30)
    return table


def _consume(requests, replies, ident):
    # one consumer: answer every number until the stop marker
    served = 0
    for number in iter(requests.get, HALT):
        replies.put((number, fib(number), ident))
        served += 1
    replies.put(("done", served, ident))


def fib(k):
    if k < 0:
        raise ValueError("k must be non-negative")
    a, b = 0, 1
    steps = 0
    while steps < k:
        a, b = b, a + b
        steps += 1
    return a
