"""Mutant (the book's setName()/getName(): works, but the feedback must name .name) for thread_fanout."""

import threading


def run_in_threads(func, args_list):
    results = [None] * len(args_list)

    def work(i, args):
        results[i] = func(*args)

    threads = []
    for i, args in enumerate(args_list):
        t = threading.Thread(target=work, args=(i, args))
        t.setName(f"fanout-{i}")
        threads.append(t)
    for t in threads:
        t.start()
    for t in threads:
        t.join()
        if t.is_alive():
            raise RuntimeError(f"{t.getName()} did not finish")
    return results
