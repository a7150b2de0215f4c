"""Correct, in another style: a RawValue under a Lock of its own for the counter; for the
histogram one segment holding the array followed by the workers' count rows, a Pool of n_procs
processes, each worker counting every n_procs-th value (a strided slice)."""

import multiprocessing
from multiprocessing import shared_memory

import numpy as np


def _increment(counter, lock, n_incr):
    for _ in range(n_incr):
        with lock:
            counter.value += 1


def count_parallel(n_procs, n_incr):
    lock = multiprocessing.Lock()
    counter = multiprocessing.RawValue("i", 0)
    workers = [multiprocessing.Process(target=_increment, args=(counter, lock, n_incr))
               for _ in range(n_procs)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    return counter.value


def _count_strided(name, n, dtype, edges, k, n_procs):
    shm = shared_memory.SharedMemory(name=name)
    data = np.ndarray((n,), dtype=dtype, buffer=shm.buf)
    offset = data.nbytes
    rows = np.ndarray((n_procs, len(edges) - 1), dtype=np.int64, buffer=shm.buf, offset=offset)
    rows[k] = np.histogram(data[k::n_procs], bins=edges)[0]
    del data, rows
    shm.close()


def histogram_parallel(arr, bins, n_procs):
    arr = np.ascontiguousarray(arr)
    edges = np.histogram_bin_edges(arr, bins)
    n_bins = len(edges) - 1
    shm = shared_memory.SharedMemory(create=True, size=arr.nbytes + n_procs * n_bins * 8)
    try:
        np.ndarray(arr.shape, dtype=arr.dtype, buffer=shm.buf)[:] = arr
        rows = np.ndarray((n_procs, n_bins), dtype=np.int64, buffer=shm.buf, offset=arr.nbytes)
        rows[:] = 0
        del rows
        pool = multiprocessing.Pool(n_procs)
        try:
            pool.starmap(_count_strided, [(shm.name, len(arr), arr.dtype.str, edges, k, n_procs)
                                          for k in range(n_procs)], chunksize=1)
        finally:
            pool.close()
            pool.join()
        rows = np.ndarray((n_procs, n_bins), dtype=np.int64, buffer=shm.buf, offset=arr.nbytes)
        total = rows.sum(axis=0)
        del rows
        return total
    finally:
        shm.close()
        shm.unlink()
