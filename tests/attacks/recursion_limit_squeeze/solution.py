"""Attack: the racy counter (honestly 6/10) that leaves the interpreter's recursion limit just
above the depth of its own frame whenever it hands a value back (SafeCounter.value,
parallel_count): the grader's code that runs after the student's call returns -- stopping the
race checks, encoding the result -- then raises RecursionError. The checks 'could not run' with
no evidence against the student: 'the grading platform failed ... not your fault', at will."""

import sys

import racy


def _squeeze():
    for n in range(1, 10_000):
        try:
            sys.setrecursionlimit(n)  # refused (RecursionError) below the current depth
            return
        except RecursionError:
            continue


class SafeCounter(racy.SafeCounter):
    @property
    def value(self):
        v = self._value
        _squeeze()
        return v


_count = racy.make_parallel_count(SafeCounter)


def parallel_count(n_threads, n_increments):
    v = _count(n_threads, n_increments)
    _squeeze()
    return v
