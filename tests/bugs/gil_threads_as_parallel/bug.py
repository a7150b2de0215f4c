"""GIL-bound threads posing as parallel: CPU-bound work in threads takes turns on the GIL."""
import threading


def burn(n):
    s = 0
    for i in range(n):
        s += i * i
    return s


def run(n, k):
    out = [None] * k
    def work(i):
        out[i] = burn(n)
    ts = [threading.Thread(target=work, args=(i,)) for i in range(k)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return out
