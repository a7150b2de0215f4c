"""Hidden tests for shared_state.

`count_parallel`'s lost update is made certain rather than left to timing: the probe
`_count_widened` slows down every read of a shared `Value` (a short sleep right after the read,
outside the Value's own lock), so a `v.value += 1` that does not hold `v.get_lock()` across the
read and the write loses updates every run, while a locked increment only gets slower.
`histogram_parallel` is compared with numpy.histogram on data whose chunks have different
ranges, checked for real shared memory, for segments never unlinked, and under spawn.
"""

import numpy as np
from hypothesis import strategies as st

from grader.testing import (
    Failed, Race, expect_equal, expect_no_child_exceptions, expect_nothing_left,
    for_varied_inputs, requirement,
)

HOLD = 2.0  # seconds a process is held at its start, waiting for the others (_start_join_order)
LOCK_HINT = ("`v.value += 1` is two steps: a read and a write. The Value's built-in lock guards "
             "each step alone, so another process can write between them and its update is "
             "lost. Hold the lock across both: `with v.get_lock(): v.value += 1`.")


# ---------------------------------------------------------------- probes (run in the sandbox)

def _count_widened(mod, n_procs, n_incr, pause):
    """count_parallel with a pause after every read of a synchronized Value's .value, and of a
    lock-free one's (RawValue, Value(..., lock=False))
    (inherited by the children under fork): the read-modify-write window is wide open. Returns
    what count_parallel returned, what the shared Values it made hold at the end (the probe
    judges the shared state itself, not a number computed beside it), which Values were made,
    and every write of a Value (synchronized or not) with the process that wrote it (a file per
    process: the children's memory is their own)."""
    import ctypes
    import os
    import sys
    import tempfile
    import time
    from multiprocessing import sharedctypes

    from grader.checks.startmethod import forked

    plain, init = sharedctypes.Synchronized.value, sharedctypes.Synchronized.__init__
    constructors = {name: getattr(sharedctypes, name) for name in ("Value", "RawValue")}
    made, kinds = [], []
    log, caller = tempfile.mkdtemp(), os.getpid()

    def read_slowly(value):  # the pause after every read of a Value's .value
        time.sleep(pause)
        return value

    def note_write(address):  # every write of a Value's .value, by the process that wrote it
        with open(os.path.join(log, str(os.getpid())), "a") as f:
            f.write(f"{address}\n")

    def slow_get(self):
        return read_slowly(plain.fget(self))

    def logged_set(self, value):
        plain.fset(self, value)
        note_write(ctypes.addressof(self._obj))

    def spy(self, *args, **kwargs):
        init(self, *args, **kwargs)
        made.append(self)

    slowed_types = {}

    def slowed(type_):
        """A subclass of the ctypes type whose .value reads slowly and logs its writes, as the
        Synchronized wrapper's do: a lock-free Value (RawValue, lock=False) is watched too."""
        if type_ not in slowed_types:
            base = type_.value

            def get(self):
                return read_slowly(base.__get__(self))

            def put(self, value):
                base.__set__(self, value)
                note_write(ctypes.addressof(self))

            slowed_types[type_] = type(type_.__name__, (type_,), {"value": property(get, put)})
        return slowed_types[type_]

    def slow_raw(typecode_or_type, *args):
        type_ = sharedctypes.typecode_to_type.get(typecode_or_type, typecode_or_type)
        if not (isinstance(type_, type) and issubclass(type_, ctypes._SimpleCData)):
            return constructors["RawValue"](typecode_or_type, *args)
        obj = sharedctypes._new_value(slowed(type_))
        ctypes.memset(ctypes.addressof(obj), 0, ctypes.sizeof(obj))
        obj.__init__(*args)
        return obj

    def raw_value(typecode_or_type, *args):
        if sys._getframe(1).f_code is constructors["Value"].__code__:  # a locked Value's
            kinds.append("Value")  # (also one bound before the probe ran: slowed in its wrapper)
            return constructors["RawValue"](typecode_or_type, *args)
        kinds.append("RawValue")
        return slow_raw(typecode_or_type, *args)

    def value(typecode_or_type, *args, lock=True, ctx=None):
        kinds.append("Value")
        if lock is False:
            return slow_raw(typecode_or_type, *args)
        return constructors["Value"](typecode_or_type, *args, lock=lock, ctx=ctx)

    sharedctypes.Synchronized.value = property(slow_get, logged_set)
    sharedctypes.Synchronized.__init__ = spy
    sharedctypes.Value, sharedctypes.RawValue = value, raw_value
    try:
        with forked():  # every child inherits the patches, whatever its start method
            got = mod.count_parallel(n_procs, n_incr)
    finally:
        sharedctypes.Synchronized.value, sharedctypes.Synchronized.__init__ = plain, init
        for name, fn in constructors.items():
            setattr(sharedctypes, name, fn)
    writes = {}
    for name in os.listdir(log):
        with open(os.path.join(log, name)) as f:
            for addr in f.read().split():
                writes.setdefault(int(name), {}).setdefault(addr, 0)
                writes[int(name)][addr] += 1
    return {"returned": got, "shared": [v.value for v in made], "made": kinds, "caller": caller,
            "writes": [[pid, addr, n] for pid, by in writes.items() for addr, n in by.items()]}


def _histogram(mod, arr, bins, n_procs, flatten=False, fork=True):
    """histogram_parallel's result, and every shared memory segment created or attached to, by
    which process (logged to a file per process, so the children's attaches are seen too).
    With `flatten`, when the caller starts its first process and a segment it created holds the
    array's bytes, every value there is set to the array's minimum: workers that count the
    segment then count one value n times, workers that count a copy of their own do not.
    With `fork`, every process is forked, whatever start method the student's code chose, so
    that every child inherits the spy."""
    import contextlib
    import os
    import tempfile
    from multiprocessing import process, shared_memory

    import numpy as np

    from grader.checks.startmethod import forked

    arr = np.asarray(arr)
    log, caller = tempfile.mkdtemp(), os.getpid()
    init, start = shared_memory.SharedMemory.__init__, process.BaseProcess.start
    created, flattened = [], []

    def spy(self, name=None, create=False, size=0):
        init(self, name=name, create=create, size=size)
        if create and os.getpid() == caller:
            created.append(self)
        with open(os.path.join(log, str(os.getpid())), "a") as f:
            f.write(f"{'create' if create else 'attach'} {self.name.lstrip('/')} {self.size}\n")

    def flattening_start(self):
        if flatten and not flattened and os.getpid() == caller:
            flattened.append(False)
            for shm in created:
                view = shm.buf[:arr.nbytes] if shm.size >= arr.nbytes else None
                if view is not None and bytes(view) == arr.tobytes():
                    view[:] = np.full_like(arr, arr.min()).tobytes()
                    flattened[0] = True
                if view is not None:
                    view.release()
        return start(self)

    shared_memory.SharedMemory.__init__ = spy
    process.BaseProcess.start = flattening_start
    try:
        with forked() if fork else contextlib.nullcontext():
            got = mod.histogram_parallel(arr, bins, n_procs)
    finally:
        shared_memory.SharedMemory.__init__ = init
        process.BaseProcess.start = start
        created.clear()
    events = []
    for name in os.listdir(log):
        with open(os.path.join(log, name)) as f:
            events += [[int(name), *line.split()] for line in f if line.strip()]
    return {"counts": np.asarray(got) if got is not None else None, "caller": caller,
            "created": [int(e[3]) for e in events if e[0] == caller and e[1] == "create"],
            "events": events, "flattened": bool(flattened and flattened[0])}


def _histogram_private(mod, arr, edges, n_procs):
    """histogram_parallel where every worker that attaches to the segment holding the array
    (its first bytes are the array's) sees those pages as a private copy-on-write mapping, in
    which every value is the middle of one bin, a different bin for each attach (the attach's
    slot); the rest of the segment stays shared. What each worker counted then lands in its own
    bin: the result says how many values each worker counted. Returns the counts and the number
    of slots handed out (a file per slot, so the children's attaches are seen)."""
    import ctypes
    import mmap
    import os
    import tempfile
    from multiprocessing import shared_memory

    import numpy as np

    from grader.checks.startmethod import forked

    arr = np.ascontiguousarray(arr)
    log, caller = tempfile.mkdtemp(), os.getpid()
    init = shared_memory.SharedMemory.__init__
    middles = [(lo + hi) / 2 for lo, hi in zip(edges, edges[1:])]
    libc = ctypes.CDLL(None, use_errno=True)
    libc.mmap.restype = ctypes.c_void_p
    libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int,
                          ctypes.c_int, ctypes.c_long]
    length = -(-arr.nbytes // mmap.PAGESIZE) * mmap.PAGESIZE

    def take_slot():
        for slot in range(len(middles)):
            try:
                os.close(os.open(os.path.join(log, str(slot)), os.O_CREAT | os.O_EXCL))
                return slot
            except FileExistsError:
                continue
        return None

    def spy(self, name=None, create=False, size=0):
        init(self, name=name, create=create, size=size)
        if create or os.getpid() == caller or self.size < length:
            return
        if bytes(self.buf[:arr.nbytes]) != arr.tobytes():
            return  # not the array's segment (or not filled yet): left as it is
        anchor = ctypes.c_char.from_buffer(self._mmap)
        addr = ctypes.addressof(anchor)
        del anchor
        got = libc.mmap(addr, length, mmap.PROT_READ | mmap.PROT_WRITE,
                        mmap.MAP_PRIVATE | 0x10, self._fd, 0)  # 0x10: MAP_FIXED
        if got != addr:
            return
        slot = take_slot()
        if slot is not None:
            self.buf[:arr.nbytes] = np.full(arr.shape, middles[slot], dtype=arr.dtype).tobytes()

    shared_memory.SharedMemory.__init__ = spy
    try:
        with forked():  # every worker inherits the spy, whatever its start method
            got = mod.histogram_parallel(arr, edges, n_procs)
    finally:
        shared_memory.SharedMemory.__init__ = init
    return {"counts": None if got is None else np.asarray(got, dtype=float),
            "slots": len(os.listdir(log))}

def _start_join_order(mod, arr, hold):
    """The order in which the caller started and joined processes, in count_parallel(3, 20)
    and in histogram_parallel(arr, 5, 3): a list of "start"/"join" per call. And whether they
    ran together: each process the caller starts (forked, whatever start method the student's
    code chose; not the workers of a Pool or an executor, nor a Manager) is held at its start
    until the caller has started 3, for at most `hold` seconds plus the time the caller waited
    for a CPU meanwhile (a busy machine). A caller that waits for one process's work before it
    starts the next makes that process wait in vain; "starts" gives each start's time and
    "gave_up" when, and after how many starts, a process stopped waiting (one process gives up
    at most, per call)."""
    import os
    import tempfile
    import time
    from multiprocessing import process

    from grader.checks.startmethod import forked

    caller = os.getpid()
    start, join = process.BaseProcess.start, process.BaseProcess.join
    bootstrap = process.BaseProcess._bootstrap
    events, board = [], []  # board: the current call's folder (inherited by forked children)

    def students(proc):
        module = getattr(getattr(proc, "_target", None), "__module__", None) or ""
        return not module.startswith(("multiprocessing", "concurrent"))

    def logged_start(self, *args, **kwargs):
        if os.getpid() == caller:
            events.append("start")
            if board and students(self):
                with open(os.path.join(board[0], f"start-{time.monotonic()!r}"), "w"):
                    pass
        return start(self, *args, **kwargs)

    def logged_join(self, *args, **kwargs):
        if os.getpid() == caller:
            events.append("join")
        return join(self, *args, **kwargs)

    def caller_starved():
        """Seconds the caller's threads have waited for a CPU (the kernel's run_delay): a
        caller kept off the CPU by a busy machine is not a caller that waits for its children."""
        total = 0
        for tid in os.listdir(f"/proc/{caller}/task"):
            try:
                with open(f"/proc/{caller}/task/{tid}/schedstat") as f:
                    total += int(f.read().split()[1])
            except (OSError, ValueError, IndexError):
                continue
        return total / 1e9

    def held_bootstrap(self, *args, **kwargs):
        if board and students(self):
            since, starved0 = time.monotonic(), caller_starved()
            while True:
                names = os.listdir(board[0])
                started = sum(name.startswith("start-") for name in names)
                if started >= 3 or any(name.startswith("gave_up-") for name in names):
                    break
                # held `hold` s, plus what the caller waited for a CPU meanwhile (at most 8 s)
                grace = min(caller_starved() - starved0, 8.0)
                if time.monotonic() > since + hold + grace:
                    with open(os.path.join(board[0], f"gave_up-{started}-{time.monotonic()!r}"),
                              "w"):
                        pass
                    break
                time.sleep(0.002)
        return bootstrap(self, *args, **kwargs)

    process.BaseProcess.start, process.BaseProcess.join = logged_start, logged_join
    process.BaseProcess._bootstrap = held_bootstrap
    order = {}
    try:
        for name, call in (("count_parallel(3, 20)", lambda: mod.count_parallel(3, 20)),
                           ("histogram_parallel(<600 values>, 5, 3)",
                            lambda: mod.histogram_parallel(arr, 5, 3))):
            events.clear()
            board[:] = [tempfile.mkdtemp()]
            with forked():  # every child inherits the patches, whatever its start method
                call()
            names = os.listdir(board[0])
            order[name] = {
                "events": list(events),
                "starts": sorted(float(n.split("-", 1)[1]) for n in names
                                 if n.startswith("start-")),
                "gave_up": [[int(n.split("-")[1]), float(n.split("-", 2)[2])] for n in names
                            if n.startswith("gave_up-")],
            }
    finally:
        process.BaseProcess.start, process.BaseProcess.join = start, join
        process.BaseProcess._bootstrap = bootstrap
        board.clear()
    return order


# ---------------------------------------------------------------- judge-side helpers

def _data(seed, n=4000):
    """Chunks with very different ranges: a histogram binned per chunk comes out wrong."""
    rng = np.random.default_rng(seed)
    return np.concatenate([rng.normal(0, 1, n // 3), rng.uniform(5, 9, n // 3),
                           rng.exponential(2, n - 2 * (n // 3)) - 6])


def _leftovers(reply):
    """The student's processes still alive after the call (multiprocessing's own helpers are
    already left out by the sandbox)."""
    return reply.leftover_processes or []


def _hist(student, arr, bins, n_procs, start_method="fork", timeout=8):
    shown = bins if isinstance(bins, int) else f"{len(bins)} edges"
    what = f"histogram_parallel(<{len(arr)} values>, {shown}, {n_procs})"
    out = student.run(_histogram, arr, bins, n_procs, False, start_method != "spawn",
                      start_method=start_method,
                      timeout=timeout, what=what)
    got = out["counts"]
    expected = np.histogram(arr, bins)[0]
    if got is not None and np.shape(got) == expected.shape and not np.array_equal(got, expected):
        if isinstance(bins, int) and np.min(arr) == np.max(arr):
            hint = (f"Every value of this array is {np.min(arr).item()!r}: numpy.histogram widens a "
                    "range of zero width to [value - 0.5, value + 0.5] before it splits it into "
                    "bins. Let numpy.histogram_bin_edges(arr, bins) compute the edges, once, "
                    "in the parent.")
        else:
            hint = ("When bins is a number, the bin edges span the whole array (its minimum to "
                    "its maximum), not each process's chunk: compute the edges once in the "
                    "parent (numpy.histogram_bin_edges(arr, bins)) and give every process the "
                    "same edges.")
        raise Failed(f"{what} gave counts {got.tolist()}, numpy.histogram gives "
                     f"{expected.tolist()}. {hint}", got=got.tolist(), expected=expected.tolist())
    expect_equal(None if got is None else got.tolist(), expected.tolist(), what)
    return out, what


# ---------------------------------------------------------------- tests: count_parallel

@requirement("one-value")
def test_count_small(student):
    """count_parallel returns n_procs * n_incr"""
    for n_procs, n_incr in [(1, 50), (3, 200), (4, 0)]:
        expect_equal(student.call("count_parallel", n_procs, n_incr, timeout=8),
                     n_procs * n_incr, f"count_parallel({n_procs}, {n_incr})")


@requirement("no-lost-update")
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


@requirement("one-value")
def test_count_uses_one_shared_value(student):
    """The n_procs processes themselves add to one shared Value"""
    n_procs, n_incr = 3, 40
    what = f"count_parallel({n_procs}, {n_incr})"
    out = student.run(_count_widened, n_procs, n_incr, 0.0, timeout=8, what=what)
    expect_equal(out["returned"], n_procs * n_incr, what)
    if not out["made"]:
        raise Failed(f"{what} created no multiprocessing.Value: the processes must add to one "
                     "shared Value (multiprocessing.Value('i', 0)), created in the parent.")
    if not out["writes"] and "RawValue" in out["made"]:
        return  # a lock-free Value of a type without .value: its writes cannot be watched
    children = [w for w in out["writes"] if w[0] != out["caller"]]
    written = sum(w[2] for w in children)
    writers = {w[0] for w in children}
    values = {w[1] for w in out["writes"]}
    if written < n_procs * n_incr or len(writers) < n_procs or len(values) > 1:
        raise Failed(f"In {what}, the {n_procs} processes wrote a shared Value {written} times in "
                     f"all ({len(writers)} process(es), {len(values)} Value(s)), but each of the "
                     f"{n_procs} processes must add 1 to the one shared Value {n_incr} times: "
                     "the count was kept elsewhere (in each process, or summed by the parent) and "
                     "only the total landed in a Value. Pass the Value to every process and "
                     "increment it there (`with v.get_lock(): v.value += 1`).",
                     writes=out["writes"], made=out["made"])


@requirement("together")
def test_processes_run_together(student, seed):
    """Both functions start all their processes before they join any, and the processes run at
    the same time (each is held at its start until all are started: none waits in vain)"""
    order = student.run(_start_join_order, _data(seed, 600), HOLD, timeout=14,
                        what="count_parallel(3, 20) and histogram_parallel(<600 values>, 5, 3)")
    for what, seen in order.items():
        events = seen["events"]
        started = events.index("join") if "join" in events else len(events)
        if started < 3:
            raise Failed(f"{what} joined a process when it had started only {started} of its "
                         f"3: the processes ran one after the other (started and joined in "
                         f"this order: {', '.join(events)}). Start every process first, in one "
                         "loop, then join them all in a second loop.", events=events)
        for count, when in seen["gave_up"]:
            later = [t for t in seen["starts"][count:] if t > when]
            if later:
                raise Failed(
                    f"{what} started its processes one after the other: the grader held each "
                    f"process at its start until all 3 were started, and process {count} waited "
                    f"at least {HOLD:g} s for the others in vain; the next was started "
                    f"{later[0] - when:.2f} s after it gave up, once it had done its work. "
                    "Do not wait for one process's result (on a Queue, a Pipe, "
                    "an Event) before you start the next: start them all, in one loop, then "
                    "collect their results.", starts=seen["starts"], gave_up=seen["gave_up"])


@requirement("joined")
def test_count_leaves_no_process(student):
    """count_parallel joins every process it starts"""
    student.call("count_parallel", 3, 10, timeout=8)
    left = _leftovers(student.last)
    if left:
        raise Failed(f"When count_parallel(3, 10) returned, {len(left)} of its processes were "
                     "still there: join every process before reading the final value.",
                     leftover_processes=left)


# ---------------------------------------------------------------- tests: histogram_parallel

@requirement("bins")
def test_histogram_integer_bins(student, seed):
    """histogram_parallel(arr, 12, 3) equals numpy.histogram(arr, 12)[0]"""
    _hist(student, _data(seed), 12, 3)


@requirement("bins")
def test_histogram_given_edges(student, seed):
    """Explicit, uneven bin edges (the last edge is inclusive, as in numpy)"""
    arr = np.round(_data(seed, 3000), 1)
    edges = [-8.0, -2.5, 0.0, 0.5, 3.0, float(arr.max())]
    _hist(student, arr, edges, 4)


# Arrays of any length (also shorter than n_procs) made of 1 to 10 distinct values, ints or
# floats: ties, values on the bin edges, a single distinct value; each with 3 to 8 bins and with
# a list of edges; 1 to 5 processes.
_NUMBERS = st.integers(-4, 4) | st.floats(-50, 50, allow_nan=False, allow_subnormal=False)
VARIED = st.tuples(
    st.lists(_NUMBERS, min_size=1, max_size=10, unique=True).flatmap(
        lambda pool: st.lists(st.sampled_from(pool), min_size=1, max_size=40)),
    st.integers(3, 8),
    st.lists(st.integers(-6, 6), min_size=2, max_size=6, unique=True).map(sorted),
    st.integers(1, 5),
)


def _shown(case):
    values, count, edges, n_procs = case
    return f"arr=numpy.array({values!r}), bins={count} and bins={edges}, n_procs={n_procs}"


def _both_bins(student, case):
    values, count, edges, n_procs = case
    _hist(student, np.asarray(values), count, n_procs)
    _hist(student, np.asarray(values), edges, n_procs)


@requirement("bins", "more-procs")
def test_histogram_varied_inputs(student, seed):
    """Arrays of any length and values, bins as a count and as edges, 1 to 5 processes"""
    for_varied_inputs(seed, VARIED, lambda case: _both_bins(student, case), count=8,
                      describe=_shown)


@requirement("more-procs")
def test_histogram_more_processes_than_values(student):
    """More processes than values: empty chunks count nothing"""
    _hist(student, np.array([3.0, 1.0, 2.0, 2.0, 9.0]), 4, 8)


@requirement("by-name")
def test_histogram_through_shared_memory(student, seed):
    """The array goes through POSIX shared memory: every worker attaches to it by name"""
    arr = _data(seed, 4000)
    out, what = _hist(student, arr, 10, 2)
    data = {e[2] for e in out["events"] if e[0] == out["caller"] and e[1] == "create"
            and int(e[3]) >= arr.nbytes}
    if not data:
        raise Failed(f"{what} created no shared memory segment large enough for the array "
                     f"({arr.nbytes} bytes; created: {out['created'] or 'none'}). Copy arr into "
                     "a multiprocessing.shared_memory.SharedMemory and let the workers attach "
                     "to it by name, instead of sending each of them a copy.",
                     created=out["created"])
    # Attaches, not distinct processes: a Pool may hand both slices to one of its processes
    # (under load the other starts late), and that process attaches for each of them. Workers
    # that count a copy beside an attach are caught below, by what they counted.
    attached = [e for e in out["events"] if e[1] == "attach" and e[2] in data
                and e[0] != out["caller"]]
    if not attached:
        raise Failed(f"In {what}, the array was copied into a shared memory segment, but no "
                     "worker process attached to that segment: the workers got the array some "
                     "other way (in their arguments, or inherited from the parent), each a copy "
                     "of its own, so the segment served nothing. Give each worker the segment's name and let it attach: "
                     "`SharedMemory(name=name)` and a numpy array over its buffer.",
                     events=out["events"])
    # Attaching is not reading (tests/attacks/shm_attach_unread): the same call with the
    # segment's values flattened to one value as the first worker starts.
    flat = student.run(_histogram, arr, 10, 2, True, timeout=8, what=what)
    counts = flat["counts"]
    if flat["flattened"] and counts is not None and np.array_equal(counts, np.histogram(arr, 10)[0]):
        raise Failed(f"In {what}, the grader changed the values in the shared memory segment "
                     "before the first worker started (all of them to one value), and the "
                     "histogram did not change: the workers counted copies of the array they got "
                     "some other way (in their arguments, or inherited from the parent), not the "
                     "segment they attached to. Let each worker count its slice of the numpy "
                     "array over the segment's buffer.")
    # One value everywhere falls in one bin, whatever the edges: counts in several bins were
    # (partly) counted from a copy, e.g. by the parent from arr
    if flat["flattened"] and counts is not None and np.count_nonzero(counts) > 1:
        raise Failed(f"In {what}, the grader set every value in the shared memory segment to "
                     "one value before the first worker started, so every count should fall in "
                     f"one bin, but the counts came out as {np.asarray(counts).tolist()}: part of "
                     "the histogram was counted from a copy of the array (in the parent, or "
                     "passed to a worker), not from the segment. Let the worker processes count "
                     "every slice from the numpy array over the segment's buffer; the parent "
                     "only sums their counts.", counts=np.asarray(counts).tolist())


@requirement("split")
def test_histogram_work_split(student, seed):
    """Each value is counted by one worker: the workers split the array, none counts it all"""
    arr = _data(seed, 3072)  # 6 pages of float64, none shared with what follows; not n_procs * k
    edges = np.linspace(arr.min(), arr.max(), 13).tolist()
    what = f"histogram_parallel(<{len(arr)} values>, 13 edges, 5)"
    out = student.run(_histogram_private, arr, edges, 5, timeout=8, what=what)
    counts, slots = out["counts"], out["slots"]
    if counts is None or slots == 0 or len(counts) != len(edges) - 1:
        return  # no worker attached to the array's segment: test_histogram_through_shared_memory
    per_worker = counts[:slots].tolist()
    told = (f"the grader gave each worker that attached to the array's segment its own view of "
            f"it, every value there moved to a bin of its own (the first to attach to bin 1, the "
            f"second to bin 2, ...), so that each bin counts what one worker counted: the {slots} "
            f"worker(s) gave {per_worker}")
    if not np.array_equal(counts, np.round(counts)) or counts.sum() != len(arr):
        raise Failed(f"In {what}, {told}, {counts.sum():g} values in all instead of the "
                     f"{len(arr)} of the array: the workers did not split the array between "
                     "them (each counted all of it, and the parent divided the total). Give "
                     "each worker its own slice (for example arr[i * step:(i + 1) * step]); "
                     "the parent adds up their counts.", counts=counts.tolist())
    if np.count_nonzero(counts) < 2:
        raise Failed(f"In {what}, {told}: one worker counted every value, the others' counts "
                     "were not used. Give each worker its own slice of the array and add up "
                     "the counts of all of them.", counts=counts.tolist())


@requirement("unlinked")
def test_segments_unlinked(student, seed):
    """Every shared memory segment histogram_parallel creates is unlinked when it returns"""
    _, what = _hist(student, _data(seed, 2000), 10, 2)
    expect_nothing_left(student.last, what, threads=False, processes=False)


@requirement("joined")
def test_histogram_leaves_no_process(student, seed):
    """histogram_parallel joins every process it starts"""
    out, what = _hist(student, _data(seed, 600), 5, 3)
    left = _leftovers(student.last)
    if left:
        raise Failed(f"When {what} returned, {len(left)} of its processes were still there: "
                     "join every worker before summing their counts.", leftover_processes=left)


@requirement("spawn")
def test_histogram_under_spawn(student, seed):
    """histogram_parallel works under the spawn start method (macOS, Windows)"""
    _hist(student, _data(seed, 3000), 8, 2, start_method="spawn", timeout=10)


@requirement("no-crash")
def test_no_worker_crashes(student, seed):
    """No worker process ends with an exception, even when the results are right"""
    _, what = _hist(student, _data(seed, 2000), 10, 2)
    expect_no_child_exceptions(student.last, what, submission=student.submission,
                               hint="A worker that closes a shared memory "
                               "segment while a numpy array still uses its buffer raises "
                               "BufferError: `del` the arrays first.")
    student.call("count_parallel", 2, 20, timeout=8)
    expect_no_child_exceptions(student.last, "count_parallel(2, 20)",
                               submission=student.submission)
