"""Public tests for queue_pipeline: run them with `grader check queue_pipeline`."""

from grader.testing import expect_equal, requirement


def _two_stages(mod, items):
    def inc(x):
        return x + 1

    def double(x):
        return 2 * x

    return mod.pipeline(items, [inc, double], 3)


@requirement("values", "in-order")
def test_two_stages(student):
    """Items go through both stages and come back in input order"""
    expect_equal(student.run(_two_stages, list(range(10)), timeout=5),
                 [2 * (x + 1) for x in range(10)], "pipeline(range(10), [inc, double], 3)")


@requirement("values")
def test_empty_input(student):
    """No items, no results"""
    expect_equal(student.run(_two_stages, [], timeout=5), [], "pipeline([], [inc, double], 3)")
