"""Append, then read back: `entries.append(x)` and `len(entries) - 1` as "my index", both under one
lock (correct twin)."""
import threading


class Log:
    def __init__(self):
        self.lock = threading.Lock()
        self.entries = []

    def add(self, x):
        with self.lock:
            self.entries.append(x)
            return len(self.entries) - 1


def run(n_threads, n):
    log = Log()
    ids = [[] for _ in range(n_threads)]

    def work(i):
        for k in range(n):
            ids[i].append((log.add((i, k)), (i, k)))

    ts = [threading.Thread(target=work, args=(i,)) for i in range(n_threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return sum(log.entries[j] == x for mine in ids for j, x in mine)  # entries found at their index
