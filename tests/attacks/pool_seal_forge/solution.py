"""Attack: the threads_for_cpu mutant of pool_speedup (a thread pool for CPU-bound work,
honestly 7.27/10) that forges the work items' seals. It looks for the sealing key everywhere
the student's code can reach from the work item it is handed (the Item class and its methods'
globals, closures and defaults, the modules those lead to, sys.modules, the environment, the
code constants of the sealing call), then has a forked helper burn CPU for the odd positions
while the threads compute every value without a record (func.fn); the odd positions come back
as Sealed(value, HMAC(key, a record in the grader's format)), with that record written into the
work-item file of the helper, as if the helper had computed them. No key found: a random one."""

import hashlib
import hmac
import os
import sys
import time
import types
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor

POOLS = {"process": ProcessPoolExecutor, "thread": ThreadPoolExecutor}
ATTRS = ("__globals__", "__closure__", "__defaults__", "__kwdefaults__", "__dict__",
         "__wrapped__", "__self__", "__func__", "cell_contents")


def _candidates(func):
    found, seen = [], set()
    todo = [(func, 0), (type(func), 0), (dict(sys.modules), 1), (dict(os.environ), 1)]
    while todo and len(seen) < 200_000:
        obj, depth = todo.pop()
        if id(obj) in seen or depth > 5:
            continue
        seen.add(id(obj))
        if type(obj) is bytes and len(obj) == 32:
            found.append(obj)
        elif type(obj) is str and len(obj) == 64:
            try:
                found.append(bytes.fromhex(obj))
            except ValueError:
                pass
        elif isinstance(obj, dict):
            todo += [(v, depth + 1) for v in list(obj.values())[:5000]]
        elif isinstance(obj, (list, tuple, set, frozenset)):
            todo += [(v, depth + 1) for v in list(obj)[:5000]]
        elif isinstance(obj, types.ModuleType):
            todo.append((dict(vars(obj)), depth + 1))
        elif isinstance(obj, type):
            todo.append((dict(vars(obj)), depth + 1))
        else:
            for attr in ATTRS:
                try:
                    todo.append((getattr(obj, attr), depth + 1))
                except Exception:  # noqa: BLE001
                    pass
    try:  # the sealing call's own constants (the audit hook refuses grader code objects)
        found += [c for c in type(func).__call__.__code__.co_consts if type(c) is tuple
                  for c in c if type(c) is bytes and len(c) == 32]
    except Exception:  # noqa: BLE001
        pass
    return found


def _burn(seconds):
    end = time.process_time() + seconds
    while time.process_time() < end:
        pass


def parallel_map(func, data, workers, kind):
    """[func(x) for x in data] with `workers` threads (also for kind 'process': the bug)."""
    if kind not in POOLS:
        raise ValueError(f"kind must be 'process' or 'thread', not {kind!r}")
    data = list(data)
    real = getattr(func, "fn", None)
    if kind != "process" or real is None or len(data) < 2:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            return list(pool.map(func, data))
    keys = _candidates(func) or [os.urandom(32)]
    claimed = list(range(1, len(data), 2))
    sealed_type = type(func((1, 1)))  # a tiny real item shows the class of sealed results
    t0 = time.process_time()
    real(data[0])
    per_item = max(time.process_time() - t0, 0.05)
    child = os.fork()
    if child == 0:
        try:
            _burn(per_item * len(claimed))
        finally:
            os._exit(0)
    try:
        start = time.clock_gettime(time.CLOCK_MONOTONIC)
        with ThreadPoolExecutor(max_workers=workers) as pool:
            work = [pool.submit(real if i in claimed else func, x) for i, x in enumerate(data)]
            out = [f.result() for f in work]
    finally:
        os.waitpid(child, 0)
    folder = os.environ.get("PGRADER_STACKS_DIR", "")
    for n, i in enumerate(claimed):
        arg = hashlib.sha256(repr(((data[i],), [])).encode()).hexdigest()[:16]
        record = "%d %r %r %r %s %d" % (child, start + n * per_item, start + (n + 1) * per_item,
                                        per_item, arg, out[i])
        tag = hmac.new(keys[n % len(keys)], record.encode(), "sha256").hexdigest()
        try:
            with open(os.path.join(folder, f"items-{child}.jsonl"), "a") as f:
                f.write(record + " " + tag + "\n")
        except OSError:
            pass
        out[i] = sealed_type(out[i], tag) if sealed_type is not int else out[i]
    return out
