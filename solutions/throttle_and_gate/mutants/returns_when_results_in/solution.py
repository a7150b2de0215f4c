import threading, time
def limited_map(func, items, max_concurrent):
    items = list(items)
    slots = threading.Semaphore(max_concurrent)
    results = [None] * len(items)
    def call(i, x):
        with slots:
            results[i] = func(x)
    threads = [threading.Thread(target=call, args=(i, x), daemon=True) for i, x in enumerate(items)]
    for t in threads: t.start()
    while any(r is None for r in results) and any(t.is_alive() for t in threads):
        time.sleep(0.001)                 # waits for the results, not for the threads
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

