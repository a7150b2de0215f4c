"""Public tests for process_lifecycle: run them with `grader check process_lifecycle`."""

from grader.testing import expect_equal, requirement


def _named(mod):
    import multiprocessing
    import os

    from grader.checks.startmethod import forked

    def child():
        os._exit(len(multiprocessing.current_process().name))

    with forked():  # the child is a closure: forked, whatever start method run_named chose
        return mod.run_named(child, ["a", "bb", "ccc"])


def _overdue(mod):
    import time

    return mod.run_with_deadline(time.sleep, (20,), 0.3)


@requirement("named", "exit-codes")
def test_run_named(student):
    """run_named: one named process each, exit codes by name"""
    expect_equal(student.run(_named, timeout=6), {"a": 1, "bb": 2, "ccc": 3},
                 "run_named(f, ['a', 'bb', 'ccc']) where f exits with len(its name)")


@requirement("deadline")
def test_run_with_deadline(student):
    """run_with_deadline terminates a child that sleeps too long"""
    expect_equal(student.run(_overdue, timeout=6), -15, "run_with_deadline(time.sleep, (20,), 0.3)",
                 hint="terminate() sends SIGTERM: the exit code is -15.")
