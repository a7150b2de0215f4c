"""close() without unlink(): the segment outlives the program in /dev/shm."""
from multiprocessing import Process, shared_memory

import numpy as np


def double(name, n):
    shm = shared_memory.SharedMemory(name=name)
    a = np.ndarray((n,), dtype=np.int64, buffer=shm.buf)
    a *= 2
    del a
    shm.close()


def run(values):
    shm = shared_memory.SharedMemory(create=True, size=8 * max(1, len(values)))
    a = np.ndarray((len(values),), dtype=np.int64, buffer=shm.buf)
    a[:] = values
    p = Process(target=double, args=(shm.name, len(values)))
    p.start()
    p.join()
    out = a.tolist()
    del a
    shm.close()
    return out
