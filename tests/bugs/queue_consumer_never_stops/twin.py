"""Queue consumers that stop (correct twin): one `None` sentinel per consumer after the items."""
import queue
import threading


def run(items, n_workers):
    q, out, lock = queue.Queue(), [], threading.Lock()

    def worker():
        while True:
            x = q.get()
            if x is None:
                return
            with lock:
                out.append(x * x)

    ts = [threading.Thread(target=worker) for _ in range(n_workers)]
    for t in ts:
        t.start()
    for x in items:
        q.put(x)
    for _ in ts:
        q.put(None)
    for t in ts:
        t.join()
    return sorted(out)
