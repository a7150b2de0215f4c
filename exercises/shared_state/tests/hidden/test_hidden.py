"""Hidden tests for shared_state.

`count_parallel`'s lost update is made certain rather than left to timing: the probe
`_count_widened` slows down every read of a shared `Value` (a short sleep right after the read,
outside the Value's own lock), so a `v.value += 1` that does not hold `v.get_lock()` across the
read and the write loses updates every run, while a locked increment only gets slower.
`histogram_parallel` is compared with numpy.histogram on data whose chunks have different
ranges, checked for real shared memory, for segments never unlinked, and under spawn.
"""

import numpy as np

from grader.testing import Failed, Race, expect_equal, expect_nothing_left

LOCK_HINT = ("`v.value += 1` is two steps: a read and a write. The Value's built-in lock guards "
             "each step alone, so another process can write between them and its update is "
             "lost. Hold the lock across both: `with v.get_lock(): v.value += 1`.")


# ---------------------------------------------------------------- probes (run in the sandbox)

def _count_widened(mod, n_procs, n_incr, pause):
    """count_parallel with a pause after every read of a synchronized Value's .value
    (inherited by the children under fork): the read-modify-write window is wide open. Returns
    what count_parallel returned and what the shared Values it made hold at the end (the probe
    judges the shared state itself, not a number computed beside it)."""
    import time
    from multiprocessing import sharedctypes

    plain, init = sharedctypes.Synchronized.value, sharedctypes.Synchronized.__init__
    made = []

    def slow_get(self):
        v = plain.fget(self)
        time.sleep(pause)
        return v

    def spy(self, *args, **kwargs):
        init(self, *args, **kwargs)
        made.append(self)

    sharedctypes.Synchronized.value = property(slow_get, plain.fset)
    sharedctypes.Synchronized.__init__ = spy
    try:
        got = mod.count_parallel(n_procs, n_incr)
    finally:
        sharedctypes.Synchronized.value, sharedctypes.Synchronized.__init__ = plain, init
    return {"returned": got, "shared": [v.value for v in made]}


def _histogram(mod, arr, bins, n_procs):
    """histogram_parallel's result, and the sizes of the shared memory segments it created."""
    from multiprocessing import shared_memory

    import numpy as np

    created = []
    init = shared_memory.SharedMemory.__init__

    def spy(self, name=None, create=False, size=0):
        init(self, name=name, create=create, size=size)
        if create:
            created.append(int(size))

    shared_memory.SharedMemory.__init__ = spy
    try:
        got = mod.histogram_parallel(np.asarray(arr), bins, n_procs)
    finally:
        shared_memory.SharedMemory.__init__ = init
    return {"counts": np.asarray(got) if got is not None else None, "created": created}


# ---------------------------------------------------------------- judge-side helpers

def _data(seed, n=4000):
    """Chunks with very different ranges: a histogram binned per chunk comes out wrong."""
    rng = np.random.default_rng(seed)
    return np.concatenate([rng.normal(0, 1, n // 3), rng.uniform(5, 9, n // 3),
                           rng.exponential(2, n - 2 * (n // 3)) - 6])


def _leftovers(reply):
    """The student's processes still alive after the call (multiprocessing's own helpers are
    already left out by the sandbox)."""
    return reply.raw.get("leftover_processes") or []


def _hist(student, arr, bins, n_procs, start_method="fork", timeout=8):
    shown = bins if isinstance(bins, int) else f"{len(bins)} edges"
    what = f"histogram_parallel(<{len(arr)} values>, {shown}, {n_procs})"
    out = student.run(_histogram, arr, bins, n_procs, start_method=start_method,
                      timeout=timeout, what=what)
    got = out["counts"]
    expected = np.histogram(arr, bins)[0]
    if got is not None and np.shape(got) == expected.shape and not np.array_equal(got, expected):
        raise Failed(f"{what} gave counts {got.tolist()}, numpy.histogram gives "
                     f"{expected.tolist()}. When bins is a number, the bin edges span the whole "
                     "array (its minimum to its maximum), not each process's chunk: compute the "
                     "edges once in the parent (numpy.histogram_bin_edges(arr, bins)) and give "
                     "every process the same edges.", got=got.tolist(), expected=expected.tolist())
    expect_equal(None if got is None else got.tolist(), expected.tolist(), what)
    return out, what


# ---------------------------------------------------------------- tests: count_parallel

def test_count_small(student):
    """count_parallel returns n_procs * n_incr"""
    for n_procs, n_incr in [(1, 50), (3, 200), (4, 0)]:
        expect_equal(student.call("count_parallel", n_procs, n_incr, timeout=8),
                     n_procs * n_incr, f"count_parallel({n_procs}, {n_incr})")


def test_count_no_lost_updates(student):
    """No update is lost when processes are slow between reading and writing the Value"""
    n_procs, n_incr = 3, 60
    what = f"count_parallel({n_procs}, {n_incr})"
    out = student.run(_count_widened, n_procs, n_incr, 0.002, timeout=8,
                      what=what + " with slow reads")
    got, shared = out["returned"], out["shared"]
    if shared and type(got) is int and got not in shared:
        raise Failed(f"{what} returned {got}, but the shared Value it counted in holds "
                     f"{shared[-1]}: return the Value's final value, not a number worked out "
                     f"beside it. {LOCK_HINT}", got=got, shared=shared[-1])
    if type(got) is int and got < n_procs * n_incr:
        raise Race(f"{what} returned {got}, expected {n_procs * n_incr}: "
                   f"{n_procs * n_incr - got} updates were lost when the grader made every read "
                   f"of the shared Value a little slower (as a busy machine does). {LOCK_HINT}",
                   got=got, expected=n_procs * n_incr)
    expect_equal(got, n_procs * n_incr, what)


def test_count_leaves_no_process(student):
    """count_parallel joins every process it starts"""
    student.call("count_parallel", 3, 10, timeout=8)
    left = _leftovers(student.last)
    if left:
        raise Failed(f"When count_parallel(3, 10) returned, {len(left)} of its processes were "
                     "still there: join every process before reading the final value.",
                     leftover_processes=left)


# ---------------------------------------------------------------- tests: histogram_parallel

def test_histogram_integer_bins(student, seed):
    """histogram_parallel(arr, 12, 3) equals numpy.histogram(arr, 12)[0]"""
    _hist(student, _data(seed), 12, 3)


def test_histogram_given_edges(student, seed):
    """Explicit, uneven bin edges (the last edge is inclusive, as in numpy)"""
    arr = np.round(_data(seed, 3000), 1)
    edges = [-8.0, -2.5, 0.0, 0.5, 3.0, float(arr.max())]
    _hist(student, arr, edges, 4)


def test_histogram_more_processes_than_values(student):
    """More processes than values: empty chunks count nothing"""
    _hist(student, np.array([3.0, 1.0, 2.0, 2.0, 9.0]), 4, 8)


def test_histogram_through_shared_memory(student, seed):
    """The array and the counts go through POSIX shared memory, unlinked afterwards"""
    arr = _data(seed, 4000)
    out, what = _hist(student, arr, 10, 2)
    if not any(size >= arr.nbytes for size in out["created"]):
        raise Failed(f"{what} created no shared memory segment large enough for the array "
                     f"({arr.nbytes} bytes; created: {out['created'] or 'none'}). Copy arr into "
                     "a multiprocessing.shared_memory.SharedMemory and let the workers attach "
                     "to it by name, instead of sending each of them a copy.",
                     created=out["created"])
    expect_nothing_left(student.last, what, threads=False, processes=False)


def test_histogram_leaves_no_process(student, seed):
    """histogram_parallel joins every process it starts"""
    out, what = _hist(student, _data(seed, 600), 5, 3)
    left = _leftovers(student.last)
    if left:
        raise Failed(f"When {what} returned, {len(left)} of its processes were still there: "
                     "join every worker before summing their counts.", leftover_processes=left)


def test_histogram_under_spawn(student, seed):
    """histogram_parallel works under the spawn start method (macOS, Windows)"""
    _hist(student, _data(seed, 3000), 8, 2, start_method="spawn", timeout=10)
