"""Lost update through an attribute: `self.n += 1` with no lock."""
import threading


class Counter:
    def __init__(self):
        self.lock = threading.Lock()
        self.n = 0

    def add(self):
        self.n += 1


def run(n_threads, n):
    c = Counter()
    ts = [threading.Thread(target=lambda: [c.add() for _ in range(n)]) for _ in range(n_threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return c.n
