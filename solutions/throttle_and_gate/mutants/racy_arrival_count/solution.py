import threading, time

def limited_map(func, items, max_concurrent):
    items = list(items)
    slots = threading.Semaphore(max_concurrent)
    results = [None] * len(items)
    def call(i, x):
        with slots:
            results[i] = func(x)
    threads = [threading.Thread(target=call, args=(i, x)) for i, x in enumerate(items)]
    for t in threads: t.start()
    for t in threads: t.join()
    return results

def start_together(n, work):
    arrived = [0]
    opened = threading.Event()
    starts = [None] * n
    def worker(i):
        c = arrived[0]            # unlocked read-modify-write of the arrival count
        arrived[0] = c + 1
        if arrived[0] == n:
            opened.set()
        opened.wait()
        starts[i] = time.perf_counter()
        work(i)
    threads = [threading.Thread(target=worker, args=(i,)) for i in range(n)]
    for t in threads: t.start()
    for t in threads: t.join()
    return starts
