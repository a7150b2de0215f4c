"""A Semaphore made inside each thread: every thread has its own, nothing is limited."""
import threading


def run(func, items, max_concurrent):
    results = [None] * len(items)

    def work(i, x):
        gate = threading.Semaphore(max_concurrent)
        with gate:
            results[i] = func(x)

    threads = [threading.Thread(target=work, args=(i, x)) for i, x in enumerate(items)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results
