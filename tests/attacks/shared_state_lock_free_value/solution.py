"""Shared state between processes: a locked Value counter and a histogram over shared memory.
The no_get_lock bug on a lock-free Value (lock=False): no lock anywhere."""

import multiprocessing
from multiprocessing import shared_memory

import numpy as np


def _increment(counter, lock, n_incr):
    for _ in range(n_incr):
        counter.value += 1  # no lock at all


def count_parallel(n_procs, n_incr):
    """n_procs processes each add 1 to a shared Value n_incr times; the final value."""
    counter = multiprocessing.Value("q", 0, lock=False)
    lock = multiprocessing.Lock()
    procs = [multiprocessing.Process(target=_increment, args=(counter, lock, n_incr))
             for _ in range(n_procs)]
    for p in procs:
        p.start()
    for p in procs:
        p.join()
    return counter.value


def _count_chunk(data_name, shape, dtype, counts_name, n_bins, edges, row, start, stop):
    data_shm = shared_memory.SharedMemory(name=data_name)
    counts_shm = shared_memory.SharedMemory(name=counts_name)
    try:
        data = np.ndarray(shape, dtype=dtype, buffer=data_shm.buf)
        counts = np.ndarray((row + 1, n_bins), dtype=np.int64, buffer=counts_shm.buf)
        counts[row] = np.histogram(data[start:stop], bins=edges)[0]
        del data, counts  # release the views before closing the segments
    finally:
        data_shm.close()
        counts_shm.close()


def histogram_parallel(arr, bins, n_procs):
    """numpy.histogram(arr, bins)[0], counted by n_procs processes that read arr from shared
    memory and write their counts to a shared counts array."""
    arr = np.ascontiguousarray(arr)
    edges = np.histogram_bin_edges(arr, bins)  # the same edges for every chunk
    n_bins = len(edges) - 1
    data_shm = shared_memory.SharedMemory(create=True, size=max(1, arr.nbytes))
    counts_shm = shared_memory.SharedMemory(create=True, size=max(1, n_procs * n_bins * 8))
    try:
        np.ndarray(arr.shape, dtype=arr.dtype, buffer=data_shm.buf)[:] = arr
        step = -(-len(arr) // n_procs)
        procs = [multiprocessing.Process(
                    target=_count_chunk,
                    args=(data_shm.name, arr.shape, arr.dtype.str, counts_shm.name, n_bins,
                          edges, i, i * step, (i + 1) * step))
                 for i in range(n_procs)]
        for p in procs:
            p.start()
        for p in procs:
            p.join()
        counts = np.ndarray((n_procs, n_bins), dtype=np.int64, buffer=counts_shm.buf)
        total = counts.sum(axis=0)
        del counts
        return total
    finally:
        data_shm.close()
        data_shm.unlink()
        counts_shm.close()
        counts_shm.unlink()
