import threading

import pp


def submit_all(server, func, inputs, callback):
    finished = []
    lock = threading.Lock()

    def done(x, result):
        with lock:
            finished.append(result)
        callback(x, result)

    for x in inputs:
        server.submit(func, (x,), callback=done, callbackargs=(x,))
    server.wait()
    return dict(zip(inputs, finished))
