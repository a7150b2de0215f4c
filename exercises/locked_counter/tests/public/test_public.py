"""Public tests for locked_counter: run them with `grader check locked_counter`."""

from grader.testing import expect_equal, requirement


def _sequential(mod):
    c = mod.SafeCounter()
    c.increment()
    c.increment(5)
    c.decrement(2)
    return c.value


@requirement("values")
def test_sequential_use(student):
    """A counter used by one thread adds and subtracts correctly"""
    expect_equal(student.run(_sequential), 4, "increment(), increment(5), decrement(2)")


@requirement("parallel-count")
def test_parallel_count_small(student):
    """parallel_count gives the total on a small input"""
    expect_equal(student.call("parallel_count", 2, 100), 200, "parallel_count(2, 100)")
