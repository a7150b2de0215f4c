"""`Thread(target=func(*args))`: the call runs now, in the caller, and the thread gets None."""
import threading


def run(func, args_list):
    results = [None] * len(args_list)

    def keep(i, value):
        results[i] = value

    threads = [threading.Thread(target=keep(i, func(*args)))
               for i, args in enumerate(args_list)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results
