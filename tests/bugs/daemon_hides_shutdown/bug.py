"""Daemon workers that are never stopped: run() returns with them still blocked in get()
(daemon=True only hides the missing shutdown)."""
import queue
import threading


def run(items, n_workers):
    tasks, results = queue.Queue(), {}

    def worker():
        while True:
            i, x = tasks.get()
            results[i] = x * x
            tasks.task_done()

    workers = [threading.Thread(target=worker, daemon=True) for _ in range(n_workers)]
    for w in workers:
        w.start()
    for i, x in enumerate(items):
        tasks.put((i, x))
    tasks.join()
    return [results[i] for i in range(len(items))]
