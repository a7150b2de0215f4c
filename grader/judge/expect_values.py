"""Expectations on a returned value: equal (`expect_equal`) or close (`expect_close`), with a
message that says what differs first, never a whole array or dict."""

from __future__ import annotations

import sys

from grader.judge.diagnose import difference, summary
from grader.judge.verdicts import Failed


def _show(value, limit: int = 300) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + f"... ({len(text)} characters)"


def expect_equal(got, expected, what: str, hint: str = "") -> None:
    """Raise `Failed` unless `got == expected` (compared on the judge's side, on plain data).
    The message says what differs first (type, length, the first wrong item and where, with a
    short window around it), never a whole array or dict."""
    numpy = sys.modules.get("numpy")  # an array was made by numpy, so it is imported then
    try:
        if numpy is not None and (
            isinstance(got, numpy.ndarray) or isinstance(expected, numpy.ndarray)
        ):
            same = (
                isinstance(got, numpy.ndarray)
                and numpy.shape(got) == numpy.shape(expected)
                and bool(numpy.array_equal(got, expected))
            )
        else:
            same = (
                type(got) is type(expected)
                and got == expected
                or (
                    isinstance(got, (int, float))
                    and isinstance(expected, (int, float))
                    and not isinstance(got, bool)
                    and got == expected
                )
            )
    except Exception:  # noqa: BLE001 - an uncomparable value is simply wrong
        same = False
    if not same:
        raise Failed(
            f"{what} returned {difference(got, expected)}." + (f" {hint}" if hint else ""),
            expected=summary(expected),
            got=summary(got),
        )


def expect_close(got, expected, what: str, tol: float, hint: str = "") -> None:
    """Raise `Failed` unless numbers (or arrays) agree within `tol`."""
    import numpy

    try:
        ok = numpy.allclose(
            numpy.asarray(got, dtype=float), numpy.asarray(expected, dtype=float), rtol=0, atol=tol
        ) and numpy.shape(got) == numpy.shape(expected)
    except Exception:  # noqa: BLE001
        ok = False
    if not ok:
        raise Failed(
            f"{what} returned {difference(got, expected, tol=tol)} (within {tol:g})."
            + (f" {hint}" if hint else ""),
            expected=summary(expected),
            got=summary(got),
        )


def expect_dtype(got, dtype: str, what: str, hint: str = "") -> None:
    """Raise `Failed` unless `got` is a numpy array of element type `dtype` ("int32"...): right
    values in another type (an int64 or float64 copy) are not what was asked for."""
    found = getattr(getattr(got, "dtype", None), "name", None)
    if type(got).__module__ != "numpy" or type(got).__name__ != "ndarray" or found != dtype:
        kind = f"a numpy array of {found}" if found else f"a {type(got).__name__}"
        raise Failed(
            f"{what} returned {kind}; it must return a numpy {dtype} array."
            + (f" {hint}" if hint else ""),
            expected=dtype,
            got=str(found or type(got).__name__),
        )
