"""Mutant (a stage exception kills its worker thread: pipeline() waits forever) for queue_pipeline."""

import queue
import threading

_STOP = object()  # a sentinel: the worker that takes it stops


def _worker(func, inbox, outbox, errors):
    while True:
        job = inbox.get()
        if job is _STOP:
            return
        index, value = job
        outbox.put((index, func(value)))


def pipeline(items, stages, workers_per_stage=3):
    items = list(items)
    queues = [queue.Queue() for _ in range(len(stages) + 1)]
    errors = []
    crews = [[threading.Thread(target=_worker, args=(func, queues[i], queues[i + 1], errors))
              for _ in range(workers_per_stage)] for i, func in enumerate(stages)]
    for crew in crews:
        for t in crew:
            t.start()
    for job in enumerate(items):
        queues[0].put(job)
    results = [None] * len(items)
    for _ in items:
        index, value = queues[-1].get()
        results[index] = value
    for i, crew in enumerate(crews):
        for _ in crew:
            queues[i].put(_STOP)
        for t in crew:
            t.join()
    return results
