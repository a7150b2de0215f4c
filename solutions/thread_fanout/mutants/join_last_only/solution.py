"""Mutant (only the last thread is joined; the others are still running on return) for thread_fanout."""

import threading


def run_in_threads(func, args_list):
    results = [None] * len(args_list)

    def work(i, args):
        results[i] = func(*args)

    t = None
    for i, args in enumerate(args_list):
        t = threading.Thread(target=work, args=(i, args))
        t.start()
    if t is not None:
        t.join()
    return results
