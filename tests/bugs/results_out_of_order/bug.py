"""Results appended as the threads finish: out of order when a later call finishes first."""
import threading


def run(func, args_list):
    results = []
    lock = threading.Lock()

    def work(args):
        value = func(*args)
        with lock:
            results.append(value)

    threads = [threading.Thread(target=work, args=(args,)) for args in args_list]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results
