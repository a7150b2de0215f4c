"""Mutant: the callback runs once per distinct result: inputs with equal results share one call."""

import threading

import pp


def submit_all(server, func, inputs, callback):
    results = {}
    lock = threading.Lock()

    seen = []

    def done(x, result):
        with lock:
            results[x] = result
            fresh = result not in seen
            seen.append(result)
        if fresh:
            callback(x, result)

    for x in inputs:
        server.submit(func, (x,), callback=done, callbackargs=(x,))
    server.wait()
    return results
