"""pp: the callback is passed to submit (pp calls it when the job ends) and called again
after job(): every callback fires twice."""

import threading

import pp


def submit_all(server, func, inputs, callback):
    results = {}
    lock = threading.Lock()

    def done(x, result):
        with lock:
            results[x] = result
        callback(x, result)

    jobs = [(x, server.submit(func, (x,), callback=done, callbackargs=(x,))) for x in inputs]
    for x, job in jobs:
        callback(x, job())  # pp has already called done (and so callback) for this job
    return results
