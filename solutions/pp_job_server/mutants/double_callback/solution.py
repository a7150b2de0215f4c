import pp


def submit_all(server, func, inputs, callback):
    jobs = [(x, server.submit(func, (x,), callback=callback, callbackargs=(x,))) for x in inputs]
    results = {}
    for x, job in jobs:
        results[x] = job()
        callback(x, results[x])
    return results
