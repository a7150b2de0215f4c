"""Mutant (`while True` consumers with no sentinel: the workers never exit) for queue_pipeline."""

import queue
import threading


def _worker(func, inbox, outbox):
    while True:
        index, value = inbox.get()
        outbox.put((index, func(value)))


def pipeline(items, stages, workers_per_stage=3):
    items = list(items)
    queues = [queue.Queue() for _ in range(len(stages) + 1)]
    for i, func in enumerate(stages):
        for _ in range(workers_per_stage):
            threading.Thread(target=_worker, args=(func, queues[i], queues[i + 1])).start()
    for job in enumerate(items):
        queues[0].put(job)
    results = [None] * len(items)
    for _ in items:
        index, value = queues[-1].get()
        results[index] = value
    return results
