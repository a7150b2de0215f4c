"""Mutant (workers stop when their queue is empty: items still on their way are lost) for queue_pipeline."""

import queue
import threading


def _worker(func, inbox, outbox):
    while not inbox.empty():
        index, value = inbox.get()
        outbox.put((index, func(value)))


def pipeline(items, stages, workers_per_stage=3):
    items = list(items)
    queues = [queue.Queue() for _ in range(len(stages) + 1)]
    for job in enumerate(items):
        queues[0].put(job)
    threads = [threading.Thread(target=_worker, args=(func, queues[i], queues[i + 1]))
               for i, func in enumerate(stages) for _ in range(workers_per_stage)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    results = [None] * len(items)
    while not queues[-1].empty():
        index, value = queues[-1].get()
        results[index] = value
    return results
