import threading, time
def limited_map(func, items, max_concurrent):
    items = list(items)
    results = [None] * len(items)
    stripes = [list(range(k, len(items), max_concurrent)) for k in range(max_concurrent)]
    def worker(idx):                      # worker k takes items k, k+m, k+2m...
        for i in idx:
            results[i] = func(items[i])
    threads = [threading.Thread(target=worker, args=(s,)) for s in stripes if s]
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

