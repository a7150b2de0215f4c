"""Results collected from a queue, then every thread joined (correct twin)."""
import queue
import threading
import time


def run(func, args_list):
    done = queue.Queue()

    def work(i, args):
        done.put((i, func(*args)))
        time.sleep(0.3)  # flush a log, close a connection...

    threads = [threading.Thread(target=work, args=(i, args)) for i, args in enumerate(args_list)]
    for t in threads:
        t.start()
    results = [None] * len(args_list)
    for _ in args_list:
        i, value = done.get()
        results[i] = value
    for t in threads:
        t.join()
    return results
