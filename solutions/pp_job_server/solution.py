"""Reference solution for pp_job_server."""

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
