"""Each process bins its chunk over the chunk's own range: the counts are summed over
bins that do not line up."""
import multiprocessing

import numpy as np


def count(chunk, bins, out):
    edges = bins if np.ndim(bins) else np.histogram_bin_edges(chunk, bins)
    out.put(np.histogram(chunk, edges)[0].tolist())


def run(values, bins, n_procs):
    arr = np.asarray(values, dtype=float)
    out = multiprocessing.Queue()
    chunks = np.array_split(arr, n_procs)
    edges = bins
    procs = [multiprocessing.Process(target=count, args=(c, edges, out)) for c in chunks]
    for p in procs:
        p.start()
    total = np.sum([out.get() for _ in procs], axis=0)
    for p in procs:
        p.join()
    return total.tolist()
