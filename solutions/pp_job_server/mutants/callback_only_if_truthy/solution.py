"""Mutant: the callback runs only for a result that is true (None, 0, [] get none)."""

import threading

import pp


def submit_all(server, func, inputs, callback):
    results = {}
    lock = threading.Lock()

    def done(x, result):
        with lock:
            results[x] = result
        if result:  # pp hands None for a failed job: skip those
            callback(x, result)

    for x in inputs:
        server.submit(func, (x,), callback=done, callbackargs=(x,))
    server.wait()
    return results
