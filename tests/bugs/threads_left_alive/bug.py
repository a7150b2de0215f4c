"""Results collected from a queue, threads never joined: they are still flushing their log
when run() returns."""
import queue
import threading
import time


def run(func, args_list):
    done = queue.Queue()

    def work(i, args):
        done.put((i, func(*args)))
        time.sleep(0.3)  # flush a log, close a connection...

    for i, args in enumerate(args_list):
        threading.Thread(target=work, args=(i, args)).start()
    results = [None] * len(args_list)
    for _ in args_list:
        i, value = done.get()
        results[i] = value
    return results
