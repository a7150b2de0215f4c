import threading, time
def limited_map(func, items, max_concurrent):
    results = [None] * len(items)          # needs len(): a generator of items fails
    slots = threading.Semaphore(max_concurrent)
    def call(i, x):
        with slots:
            results[i] = func(x)
    threads = [threading.Thread(target=call, args=(i, x)) for i, x in enumerate(items)]
    for t in threads: t.start()
    for t in threads: t.join()
    return results

def start_together(n, work):
    gate = threading.Barrier(n)
    starts = [None] * n
    def worker(i):
        gate.wait()
        starts[i] = time.perf_counter()
        work(i)
    threads = [threading.Thread(target=worker, args=(i,)) for i in range(n)]
    for t in threads: t.start()
    for t in threads: t.join()
    return starts

