"""Each call runs in its own thread: `Thread(target=..., args=...)` (correct twin)."""
import threading


def run(func, args_list):
    results = [None] * len(args_list)

    def work(i, args):
        results[i] = func(*args)

    threads = [threading.Thread(target=work, args=(i, args))
               for i, args in enumerate(args_list)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results
