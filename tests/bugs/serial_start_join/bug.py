"""start() then join() inside the loop: one thread at a time, the work is serial."""
import threading


def run(func, args_list):
    results = [None] * len(args_list)

    def work(i, args):
        results[i] = func(*args)

    for i, args in enumerate(args_list):
        t = threading.Thread(target=work, args=(i, args))
        t.start()
        t.join()
    return results
