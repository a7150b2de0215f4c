"""`get_nowait()` takes the item in one step (correct twin)."""
import queue
import threading


def run(n_workers, n):
    tasks = queue.Queue()
    for i in range(n):
        tasks.put(i)
    done = []
    lock = threading.Lock()

    def worker():
        while True:
            try:
                item = tasks.get_nowait()
            except queue.Empty:
                return
            with lock:
                done.append(item)

    ts = [threading.Thread(target=worker) for _ in range(n_workers)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return sorted(done)
