"""Data the student's side produced, made safe to handle: bounded, plain, encodable.

Everything that comes out of the student's processes -- result frames, findings, stack dumps,
tool logs, thread names, exception text, values -- is hostile input. `clean` turns a decoded
JSON value into one that any later code can walk, print, store and encode without surprises:

* nesting is cut at `max_depth` (deeper containers become a short marker string), without
  recursion in this function beyond that depth;
* at most `max_items` containers and scalars in all, lists and dicts cut to `max_len` entries;
* strings cut to `max_str` characters, lone UTF-16 surrogates and NUL replaced (they cannot be
  written as UTF-8, stored in PostgreSQL, or shown), dict keys made strings;
* ints beyond 10,000 bits and floats that are not finite become strings; anything that is not
  JSON data (it cannot come out of `json.loads`, but may be handed in) becomes its type name.

Used by the supervisor on what it reads from the run, and again by the host on the whole
reply (`grader.sandbox.base.parse_reply`). This module runs on both sides: standard library
only.
"""

from __future__ import annotations

import math
import re

MAX_DEPTH = 16
MAX_ITEMS = 200_000
MAX_LEN = 20_000
MAX_STR = 100_000
_BAD_CHARS = re.compile("[\ud800-\udfff\x00]")
MAX_INT_BITS = 10_000  # what the codec sends as a plain int (str() of it stays under 4,300 digits)


def clean_str(text: str, limit: int = MAX_STR) -> str:
    """`text` cut to `limit` characters, with lone surrogates and NUL replaced by U+FFFD."""
    if len(text) > limit:
        text = text[:limit] + f"... ({len(text) - limit} more characters)"
    return _BAD_CHARS.sub("\ufffd", text)


def clean(
    value,
    max_depth: int = MAX_DEPTH,
    max_items: int = MAX_ITEMS,
    max_len: int = MAX_LEN,
    max_str: int = MAX_STR,
):
    """A bounded copy of the JSON-like `value` (see the module's docstring)."""
    budget = [max_items]

    def walk(v, depth):
        budget[0] -= 1
        if budget[0] < 0:
            return "<cut: too many items>"
        if v is None or v is True or v is False:
            return v
        t = type(v)
        if t is str:
            return clean_str(v, max_str)
        if t is int:
            return v if v.bit_length() <= MAX_INT_BITS else f"<int of {v.bit_length()} bits>"
        if t is float:
            return v if math.isfinite(v) else repr(v)
        if t is list or t is tuple:
            if depth >= max_depth:
                return "<cut: nested too deep>"
            return [walk(x, depth + 1) for x in v[:max_len]]
        if t is dict:
            if depth >= max_depth:
                return "<cut: nested too deep>"
            out = {}
            for k, x in list(v.items())[:max_len]:
                key = clean_str(k, 200) if type(k) is str else clean_str(str(k)[:200], 200)
                out[key] = walk(x, depth + 1)
            return out
        return f"<{clean_str(t.__name__, 100)}>"

    return walk(value, 0)


def signal_name(number: int) -> str:
    """'SIGKILL', 'SIGRTMIN+1', or 'signal 99': never raises, whatever the number."""
    import signal

    try:
        return signal.Signals(number).name
    except ValueError:
        pass
    low, high = getattr(signal, "SIGRTMIN", 0), getattr(signal, "SIGRTMAX", -1)
    if low <= number <= high:
        return f"SIGRTMIN+{number - low}"
    return f"signal {number}"
