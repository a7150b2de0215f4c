"""A new lock per call: `with threading.Lock():` protects nothing, every thread has its own."""
import threading


class Counter:
    def __init__(self):
        self.lock = threading.Lock()
        self.n = 0

    def add(self):
        with threading.Lock():
            self.n += 1


def run(n_threads, n):
    c = Counter()
    ts = [threading.Thread(target=lambda: [c.add() for _ in range(n)]) for _ in range(n_threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return c.n
