"""Reference solution for queue_pipeline: one queue per stage, sentinels to stop, results by index."""

import queue
import threading

_STOP = object()  # a sentinel: the worker that takes it stops


def _worker(func, inbox, outbox, errors):
    while True:
        job = inbox.get()
        if job is _STOP:
            return
        index, value = job
        if errors:  # a stage failed: pass what is left through, untouched, so everyone finishes
            outbox.put((index, value))
            continue
        try:
            outbox.put((index, func(value)))
        except BaseException as exc:  # noqa: BLE001 - handed to the caller
            errors.append(exc)
            outbox.put((index, value))


def pipeline(items, stages, workers_per_stage=3):
    items = list(items)
    queues = [queue.Queue() for _ in range(len(stages) + 1)]
    errors = []
    crews = [[threading.Thread(target=_worker, args=(func, queues[i], queues[i + 1],
                                                     errors if i < len(stages) - 1 else []))
              for _ in range(workers_per_stage)] for i, func in enumerate(stages)]
    for crew in crews:
        for t in crew:
            t.start()
    for job in enumerate(items):
        queues[0].put(job)
    for i, crew in enumerate(crews):  # stage i has all its items once stage i-1 has stopped
        for _ in crew:
            queues[i].put(_STOP)
        for t in crew:
            t.join()
    if errors:
        raise errors[0]
    results = [None] * len(items)
    for _ in items:
        index, value = queues[-1].get()
        results[index] = value
    return results
