"""Mutant (results appended as the threads finish, not placed by index) for thread_fanout."""

import threading


def run_in_threads(func, args_list):
    results = []

    def work(args):
        results.append(func(*args))

    threads = [threading.Thread(target=work, args=(args,)) for args in args_list]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results
