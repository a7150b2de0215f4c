import threading
def run_in_threads(func, args_list):
    results = [None] * len(args_list)
    def work(i, args):
        results[i] = func(*args)
    threads = [threading.Thread(target=work, args=(i, a)) for i, a in enumerate(args_list)]
    for t in threads: t.start()
    for t in threads: t.join(timeout=0.5)      # gives up on slow calls
    return results
