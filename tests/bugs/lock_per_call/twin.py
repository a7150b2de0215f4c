"""One lock per counter, made in __init__ (correct twin)."""
import threading


class Counter:
    def __init__(self):
        self.lock = threading.Lock()
        self.n = 0

    def add(self):
        with self.lock:
            self.n += 1


def run(n_threads, n):
    c = Counter()
    ts = [threading.Thread(target=lambda: [c.add() for _ in range(n)]) for _ in range(n_threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return c.n
