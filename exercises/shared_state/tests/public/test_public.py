"""Public tests for shared_state: run them with `grader check shared_state`."""

import numpy as np

from grader.testing import expect_equal, requirement


@requirement("one-value")
def test_count(student):
    """count_parallel(2, 100) returns 200"""
    expect_equal(student.call("count_parallel", 2, 100, timeout=8), 200, "count_parallel(2, 100)")


@requirement("bins")
def test_histogram(student):
    """histogram_parallel on a small array with 4 bins and 2 processes"""
    arr = np.array([0.0, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 4.0])
    got = student.call("histogram_parallel", arr, 4, 2, timeout=8)
    expect_equal(np.asarray(got).tolist(), np.histogram(arr, 4)[0].tolist(),
                 "histogram_parallel([0, 0.5, ..., 4], 4, 2)")
