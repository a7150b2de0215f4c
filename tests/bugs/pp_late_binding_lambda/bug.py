"""pp: `callback=lambda result: done(x, result)` made in the loop: x is looked up when the
callback runs, so callbacks get another input's x and results are mixed up."""

import threading

import pp


def submit_all(server, func, inputs, callback):
    results = {}
    lock = threading.Lock()

    def done(x, result):
        with lock:
            results[x] = result
        callback(x, result)

    for x in inputs:
        server.submit(func, (x,), callback=lambda result: done(x, result))
    server.wait()
    return results
