"""The edges computed once over the whole array, in the parent (correct twin)."""
import multiprocessing

import numpy as np


def count(chunk, bins, out):
    edges = bins
    out.put(np.histogram(chunk, edges)[0].tolist())


def run(values, bins, n_procs):
    arr = np.asarray(values, dtype=float)
    out = multiprocessing.Queue()
    chunks = np.array_split(arr, n_procs)
    edges = np.histogram_bin_edges(arr, bins)
    procs = [multiprocessing.Process(target=count, args=(c, edges, out)) for c in chunks]
    for p in procs:
        p.start()
    total = np.sum([out.get() for _ in procs], axis=0)
    for p in procs:
        p.join()
    return total.tolist()
