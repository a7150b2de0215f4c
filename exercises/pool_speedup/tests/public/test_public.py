"""Public tests for pool_speedup: run them with `grader check pool_speedup`."""

from grader.testing import expect_equal, requirement


def _both(mod):
    return {kind: mod.parallel_map(abs, [3, -1, -4, 1, -5], 2, kind)
            for kind in ("process", "thread")}


@requirement("in-order")
def test_both_kinds(student):
    """parallel_map(abs, [3, -1, -4, 1, -5], 2, kind) for both kinds"""
    expect_equal(student.run(_both, timeout=10), {"process": [3, 1, 4, 1, 5],
                                                 "thread": [3, 1, 4, 1, 5]},
                 "parallel_map(abs, [3, -1, -4, 1, -5], 2, kind) for kind 'process' and 'thread'")
