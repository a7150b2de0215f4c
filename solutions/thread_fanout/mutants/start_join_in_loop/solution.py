"""Mutant (start and join in the same loop: the threads run one after another) for thread_fanout."""

import threading


def run_in_threads(func, args_list):
    results = [None] * len(args_list)

    def work(i, args):
        results[i] = func(*args)

    for i, args in enumerate(args_list):
        t = threading.Thread(target=work, args=(i, args))
        t.start()
        t.join()
    return results
