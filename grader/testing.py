"""What exercise tests import: verdicts to raise and small helpers that phrase them well.

    from grader.testing import expect_equal, Race

    def test_small(student):
        expect_equal(student.call("parallel_count", 2, 10), 20, "parallel_count(2, 10)")
"""

from __future__ import annotations

from grader.judge.proxy import Reply, Student, describe_call, raise_for  # noqa: F401
from grader.judge.verdicts import (  # noqa: F401
    Crashed, Deadlock, Failed, NotRun, Race, SandboxFault, StudentError, Timeout, Verdict,
)


def _show(value, limit: int = 300) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + f"... ({len(text)} characters)"


def expect_equal(got, expected, what: str, hint: str = "") -> None:
    """Raise `Failed` unless `got == expected` (compared on the judge's side, on plain data)."""
    try:
        import numpy

        if isinstance(got, numpy.ndarray) or isinstance(expected, numpy.ndarray):
            same = (isinstance(got, numpy.ndarray) and numpy.shape(got) == numpy.shape(expected)
                    and bool(numpy.array_equal(got, expected)))
        else:
            same = type(got) is type(expected) and got == expected or (
                isinstance(got, (int, float)) and isinstance(expected, (int, float))
                and not isinstance(got, bool) and got == expected)
    except Exception:  # noqa: BLE001 - an uncomparable value is simply wrong
        same = False
    if not same:
        message = f"{what} returned {_show(got)}, expected {_show(expected)}."
        raise Failed(message + (f" {hint}" if hint else ""), expected=_show(expected), got=_show(got))


def expect_close(got, expected, what: str, tol: float, hint: str = "") -> None:
    """Raise `Failed` unless numbers (or arrays) agree within `tol`."""
    import numpy

    try:
        ok = numpy.allclose(numpy.asarray(got, dtype=float), numpy.asarray(expected, dtype=float),
                            rtol=0, atol=tol) and numpy.shape(got) == numpy.shape(expected)
    except Exception:  # noqa: BLE001
        ok = False
    if not ok:
        raise Failed(f"{what} returned {_show(got)}, expected {_show(expected)} (within {tol:g})."
                     + (f" {hint}" if hint else ""), expected=_show(expected), got=_show(got))
