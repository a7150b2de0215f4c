"""Public tests for mp_queue_fibonacci: run them with `grader check mp_queue_fibonacci`."""

from grader.testing import Deadlock, expect_equal, requirement

HANG_HINT = ("Common causes: a consumer that stops when the task queue looks empty (`empty()` is "
             "also true when the producer has not put the next value *yet*: values get lost), a "
             "consumer that never receives a sentinel, or joining the consumers before taking "
             "their results off the result queue.")


def _slowly(mod, values, n_consumers):
    """parallel_fib(values, n_consumers) with values that take 30 ms each to put on a queue
    (to pickle), like values read from a slow source: consumers often find the queue empty."""
    import time

    class SlowInt(int):
        def __reduce__(self):
            time.sleep(0.03)
            return (int, (int(self),))

    got = mod.parallel_fib([SlowInt(v) for v in values], n_consumers)
    if type(got) is dict:
        got = {(int(k) if isinstance(k, int) else k): v for k, v in got.items()}
    return got


def _call(student, values, n_consumers):
    what = f"parallel_fib({values}, {n_consumers})"
    try:
        return student.run(_slowly, values, n_consumers, timeout=8, what=what)
    except Deadlock as exc:
        raise Deadlock(f"{exc.message} {HANG_HINT}", **exc.details) from None


@requirement("values")
def test_small_values(student):
    """A few small values with two consumers"""
    got = _call(student, [0, 1, 2, 10, 20], 2)
    expect_equal(got, {0: 0, 1: 1, 2: 1, 10: 55, 20: 6765}, "parallel_fib([0, 1, 2, 10, 20], 2)")


@requirement("values")
def test_one_consumer(student):
    """One consumer computes every value"""
    got = _call(student, [30, 5, 50], 1)
    expect_equal(got, {30: 832040, 5: 5, 50: 12586269025}, "parallel_fib([30, 5, 50], 1)")
