"""pp: submit_all returns without server.wait(): the jobs still run, so callbacks are lost
and results missing when it returns."""

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
        server.submit(func, (x,), callback=done, callbackargs=(x,))
    return results
