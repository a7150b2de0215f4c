"""Public tests for reentrant_box: run them with `grader check reentrant_box`."""

from grader.testing import expect_equal, requirement


def _sequential(mod):
    b = mod.Box()
    b.add()
    b.add(5)
    b.remove(2)
    return b.total


def _execute(mod):
    b = mod.Box()
    b.execute(4)
    b.execute(-1)
    return b.total


@requirement("values")
def test_add_and_remove(student):
    """add() and remove() change the total (one thread)"""
    got = student.run(_sequential, timeout=2, checks={"lockorder": {}})  # names a Lock taken twice
    expect_equal(got, 4, "add(), add(5), remove(2) on a new Box")


@requirement("values")
def test_execute(student):
    """execute(n) adds n to the total"""
    expect_equal(student.run(_execute, timeout=2), 3, "execute(4), execute(-1) on a new Box")
