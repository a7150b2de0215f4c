"""Public tests for thread_fanout: run them with `grader check thread_fanout`."""

from grader.testing import expect_equal, requirement


def _squares(mod, n):
    return mod.run_in_threads(lambda x: x * x, [(i,) for i in range(n)])


def _powers(mod):
    return mod.run_in_threads(pow, [(2, 10), (3, 2)])


@requirement("values")
def test_small_inputs(student):
    """run_in_threads returns func's results for each argument tuple, in order"""
    expect_equal(student.run(_squares, 5, timeout=5), [0, 1, 4, 9, 16],
                 "run_in_threads(lambda x: x * x, [(0,), (1,), (2,), (3,), (4,)])")
    expect_equal(student.run(_powers, timeout=5), [1024, 9], "run_in_threads(pow, [(2, 10), (3, 2)])")


@requirement("values")
def test_empty_list(student):
    """No argument tuples: an empty list"""
    expect_equal(student.run(_squares, 0, timeout=5), [], "run_in_threads(f, [])")
