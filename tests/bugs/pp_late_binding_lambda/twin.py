"""pp job server (correct twin): callbackargs=(x,), one callback per job, server.wait()."""

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
    server.wait()
    return results
