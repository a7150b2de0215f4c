"""Peek at the head (`q.queue[0]`), work on it, then `get()`: two workers can take the same
item, and the item behind it is thrown away unprocessed."""
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
            if tasks.empty():
                return
            item = tasks.queue[0]
            tasks.get_nowait()
            with lock:
                done.append(item)

    ts = [threading.Thread(target=worker) for _ in range(n_workers)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return sorted(done)
