"""Submits every job without a callback, then calls the callback itself for each job in the
order of the inputs, after waiting for that job: a callback runs long after its job finished
whenever an earlier input is slower."""


def submit_all(server, func, inputs, callback):
    jobs = [(x, server.submit(func, (x,))) for x in inputs]
    results = {}
    for x, job in jobs:
        results[x] = job()
        callback(x, results[x])
    return results
