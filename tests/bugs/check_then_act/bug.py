"""Check-then-act: `if key not in cache: cache[key] = make(key)` with no lock, so two threads can
both see the key missing and both create it."""
import threading


class Cache:
    def __init__(self):
        self.lock = threading.Lock()
        self.items = {}
        self.made = []

    def make(self, key):
        self.made.append(key)
        return [key]

    def get(self, key):
        if key not in self.items:
            self.items[key] = self.make(key)
        return self.items[key]


def run(n_threads, n):
    cache = Cache()
    ts = [threading.Thread(target=lambda: [cache.get(k) for k in range(n)]) for _ in range(n_threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return len(cache.made)  # each key must be made exactly once
