"""Lost update through a module global: `total += 1` with no lock."""
import threading

lock = threading.Lock()
total = 0


def add():
    global total
    total += 1


def run(n_threads, n):
    global total
    total = 0
    ts = [threading.Thread(target=lambda: [add() for _ in range(n)]) for _ in range(n_threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return total
