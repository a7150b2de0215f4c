"""A sentinel per worker after the work, then join (correct twin)."""
import queue
import threading


def run(items, n_workers):
    tasks, results = queue.Queue(), {}

    def worker():
        while True:
            i, x = tasks.get()
            if i is None:
                tasks.task_done()
                return
            results[i] = x * x
            tasks.task_done()

    workers = [threading.Thread(target=worker, daemon=True) for _ in range(n_workers)]
    for w in workers:
        w.start()
    for i, x in enumerate(items):
        tasks.put((i, x))
    tasks.join()
    for _ in workers:
        tasks.put((None, None))
    for w in workers:
        w.join()
    return [results[i] for i in range(len(items))]
