"""One Semaphore shared by every thread (correct twin)."""
import threading


def run(func, items, max_concurrent):
    results = [None] * len(items)
    gate = threading.Semaphore(max_concurrent)

    def work(i, x):
        with gate:
            results[i] = func(x)

    threads = [threading.Thread(target=work, args=(i, x)) for i, x in enumerate(items)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results
