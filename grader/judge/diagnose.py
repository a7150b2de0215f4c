"""One-line diagnoses of a wrong value, and short summaries of long ones, for verdict messages.

    f"f(x) returned {difference([1, 2, 9, 4], [1, 2, 3, 4])}."
    -> 'f(x) returned a list whose item 2 of 4 is 9, expected 3 (got [1, 2, >9<, 4],
        expected [1, 2, >3<, 4]).'
    summary(list(range(1000)))  -> '[0, 1, 2, 3, 4, ... 995 more] (1000 items)'

The diagnosis (written to follow "returned") says what is wrong first (a type, a length, the
first differing item and where),
then only as much data as shows it: a window around the first mismatch, never a whole array or
a raw dict.
"""

from __future__ import annotations

import math

WINDOW = 2  # items shown on each side of the first mismatch
SHOWN = 6  # items shown of a long sequence
TEXT = 80  # characters shown of a long value


def _is_array(value) -> bool:
    return type(value).__module__ == "numpy" and hasattr(value, "shape") and hasattr(value, "dtype")


def kind(value) -> str:
    """'an int', 'a str', 'an array of 10 int32', 'a list of 3 items'..."""
    if value is None:
        return "None"
    if _is_array(value):
        shape = "x".join(map(str, value.shape)) if value.ndim != 1 else str(value.shape[0])
        return f"an array of {shape} {value.dtype}"
    name = type(value).__name__
    article = "an" if name[:1] in "aeiou" else "a"
    if isinstance(value, (list, tuple, dict, set)):
        unit = "entries" if isinstance(value, dict) else "items"
        return f"{article} {name} of {len(value)} {unit}"
    return f"{article} {name}"


def short(value, limit: int = TEXT) -> str:
    """repr(value), cut to `limit` characters with the total length said."""
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + f"... ({len(text)} characters)"


def summary(value) -> str:
    """A short form of any value: long sequences, arrays, dicts and strings are cut, with their
    size said."""
    if _is_array(value):
        flat = value.ravel().tolist()
        shown = ", ".join(short(v, 20) for v in flat[:SHOWN])
        more = f", ... {len(flat) - SHOWN} more" if len(flat) > SHOWN else ""
        return f"{kind(value)} [{shown}{more}]"
    if isinstance(value, (list, tuple)) and len(value) > SHOWN:
        shown = ", ".join(short(v, 20) for v in value[: SHOWN - 1])
        return f"[{shown}, ... {len(value) - SHOWN + 1} more] ({len(value)} items)"
    if isinstance(value, dict) and len(value) > SHOWN:
        shown = ", ".join(f"{short(k, 20)}: {short(v, 20)}" for k, v in list(value.items())[:SHOWN])
        return f"{{{shown}, ... {len(value) - SHOWN} more}} ({len(value)} entries)"
    return short(value)


def _same(a, b, tol: float | None) -> bool:
    if tol is not None and isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return math.isclose(float(a), float(b), rel_tol=0, abs_tol=tol)
    try:
        return bool(type(a) is type(b) and a == b) or (
            isinstance(a, (int, float))
            and isinstance(b, (int, float))
            and not isinstance(a, bool)
            and not isinstance(b, bool)
            and a == b
        )
    except Exception:  # noqa: BLE001 - values that cannot be compared differ
        return False


def _window(items: list, index: int) -> str:
    lo, hi = max(0, index - WINDOW), min(len(items), index + WINDOW + 1)
    cells = [
        (">" + short(v, 24) + "<") if i == index else short(v, 24)
        for i, v in enumerate(items[lo:hi], start=lo)
    ]
    before, after = ("..., " if lo else ""), (", ..." if hi < len(items) else "")
    return "[" + before + ", ".join(cells) + after + "]"


def _sequence(got: list, expected: list, tol: float | None, unit: str, noun: str) -> str:
    first = next((i for i, (a, b) in enumerate(zip(got, expected)) if not _same(a, b, tol)), None)
    if len(got) != len(expected):
        text = f"{noun} of {len(got)} {unit}, expected {len(expected)}"
        if first is not None:
            text += (
                f"; the first difference is {unit[:-1] if unit.endswith('s') else unit} "
                f"{first}: {short(got[first], 40)}, expected {short(expected[first], 40)}"
            )
        elif len(got) < len(expected):
            text += f"; the {unit} from index {len(got)} on are missing"
        else:
            text += (
                f"; {len(got) - len(expected)} extra at the end, from "
                f"{short(got[len(expected)], 40)}"
            )
        return text
    if first is None:
        return "the items are equal but of other types"
    wrong = sum(not _same(a, b, tol) for a, b in zip(got, expected))
    others = f" ({wrong - 1} more differ)" if wrong > 1 else ""
    off = ""
    if tol is not None and all(isinstance(v, (int, float)) for v in (got[first], expected[first])):
        off = f", off by {abs(float(got[first]) - float(expected[first])):.3g} (tolerance {tol:g})"
    return (
        f"{noun} whose item {first} of {len(got)} is {short(got[first], 40)}, expected "
        f"{short(expected[first], 40)}{off}{others} (got {_window(got, first)}, expected "
        f"{_window(expected, first)})"
    )


def _mapping(got: dict, expected: dict, tol: float | None) -> str:
    missing = [k for k in expected if k not in got]
    extra = [k for k in got if k not in expected]
    wrong = [k for k in expected if k in got and not _same(got[k], expected[k], tol)]
    parts = []
    if missing:
        parts.append(f"no entry for {_keys(missing)}")
    if extra:
        parts.append(f"entries that should not be there: {_keys(extra)}")
    if wrong:
        k = wrong[0]
        more = f" and {len(wrong) - 1} more" if len(wrong) > 1 else ""
        parts.append(
            f"key {short(k, 30)} holds {short(got[k], 40)}, expected {short(expected[k], 40)}{more}"
        )
    return "; ".join(parts) or "the entries are equal but of other types"


def _keys(keys: list) -> str:
    shown = ", ".join(short(k, 30) for k in keys[:SHOWN])
    return shown + (f" ({len(keys)} in all)" if len(keys) > SHOWN else "")


def difference(got, expected, tol: float | None = None) -> str:
    """What is wrong with `got` against `expected`, in one line, the diagnosis first."""
    if _is_array(expected) or _is_array(got):
        if not _is_array(got):
            return f"{kind(got)}, expected {kind(expected)}"
        if got.shape != expected.shape:
            return f"an array of shape {tuple(got.shape)}, expected shape {tuple(expected.shape)}"
        if tol is None and got.dtype != expected.dtype:
            return f"an array of dtype {got.dtype}, expected {expected.dtype}"
        return _sequence(
            got.ravel().tolist(),
            expected.ravel().tolist(),
            tol,
            "items",
            "an array" + (" (flattened)" if got.ndim > 1 else ""),
        )
    numbers = (int, float)
    if not (
        isinstance(got, numbers)
        and isinstance(expected, numbers)
        and not isinstance(got, bool)
        and not isinstance(expected, bool)
    ) and type(got) is not type(expected):
        shown = [
            k if v is None else f"{k} ({short(v, 40)})"
            for k, v in ((kind(got), got), (kind(expected), expected))
        ]
        return f"{shown[0]}, expected {shown[1]}"
    if isinstance(expected, (list, tuple)):
        return _sequence(list(got), list(expected), tol, "items", "a " + type(expected).__name__)
    if isinstance(expected, dict):
        return "a dict with " + _mapping(got, expected, tol)
    if isinstance(expected, str) and (len(got) > TEXT or len(expected) > TEXT):
        first = next(
            (i for i, (a, b) in enumerate(zip(got, expected)) if a != b),
            min(len(got), len(expected)),
        )
        return (
            f"a text of {len(got)} characters, expected {len(expected)}; they differ from "
            f"character {first}: {short(got[first : first + 30])} instead of "
            f"{short(expected[first : first + 30])}"
        )
    return f"{short(got)}, expected {short(expected)}"
