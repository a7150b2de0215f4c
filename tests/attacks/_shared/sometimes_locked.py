"""The racy counter (racy.py) that takes its lock only where told to: the attacks that tell the
requests that check for races from the plain ones build on it."""

import racy


def build(careful: bool):
    """(SafeCounter, parallel_count): locked updates if `careful`, else the racy ones."""

    class SafeCounter(racy.SafeCounter):
        def increment(self, k=1):
            if careful:
                with self._lock:
                    self._value += k
            else:
                super().increment(k)  # the bug, wherever nobody looks

    return SafeCounter, racy.make_parallel_count(SafeCounter)
