"""Returns the results as a tuple, not a list."""

import threading


def run_in_threads(func, args_list):
    results = [None] * len(args_list)

    def work(i, args):
        results[i] = func(*args)

    threads = [threading.Thread(target=work, args=(i, args)) for i, args in enumerate(args_list)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return tuple(results)
