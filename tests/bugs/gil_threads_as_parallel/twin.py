"""CPU-bound work in processes (correct twin): a process pool really runs in parallel."""
import multiprocessing as mp


def burn(n):
    s = 0
    for i in range(n):
        s += i * i
    return s


def run(n, k):
    with mp.Pool(k) as pool:
        return pool.map(burn, [n] * k)
