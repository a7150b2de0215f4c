"""Public tests for pipe_pipeline: run them with `grader check pipe_pipeline`."""

from grader.testing import expect_equal, requirement


@requirement("caller")
def test_ten_squares(student):
    """pipeline_squares(10) returns the first ten squares"""
    expect_equal(student.call("pipeline_squares", 10, timeout=4), [i * i for i in range(10)],
                 "pipeline_squares(10)")


@requirement("sizes")
def test_nothing(student):
    """pipeline_squares(0) returns []"""
    expect_equal(student.call("pipeline_squares", 0, timeout=4), [], "pipeline_squares(0)")
