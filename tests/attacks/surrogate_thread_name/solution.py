"""Attack: a name no file can hold. The racy counter (honestly 6/10), whose parallel_count
leaves a sleeping thread behind named with a lone UTF-16 surrogate."""

import threading
import time

import racy

_count = racy.make_parallel_count(racy.SafeCounter)
SafeCounter = racy.SafeCounter


def parallel_count(n_threads, n_increments):
    threading.Thread(target=time.sleep, args=(60,), daemon=True, name="\ud800 evil \udfff").start()
    return _count(n_threads, n_increments)
