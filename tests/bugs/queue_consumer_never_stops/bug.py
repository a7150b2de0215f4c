"""Queue consumers that never stop: `while True: q.get()` with no sentinel, so joining the
consumers waits forever once the queue is empty."""
import queue
import threading


def run(items, n_workers):
    q, out, lock = queue.Queue(), [], threading.Lock()

    def worker():
        while True:
            x = q.get()
            with lock:
                out.append(x * x)

    ts = [threading.Thread(target=worker) for _ in range(n_workers)]
    for t in ts:
        t.start()
    for x in items:
        q.put(x)
    for t in ts:
        t.join()
    return sorted(out)
