"""A strict JSON codec for values crossing the sandbox boundary.

Only plain data crosses: None, bool, int, float, str, list, tuple, dict, set,
frozenset, bytes and numeric numpy arrays. Anything else (including subclasses
of the plain types, whose `__eq__` a student could override) is replaced by an
`Opaque` marker that equals nothing. Decoding never executes code and never
unpickles.
"""

from __future__ import annotations

import base64
import json
import math

MAX_DEPTH = 50
MAX_ITEMS = 2_000_000
BIG_INT_BITS = 10_000


class EncodeError(ValueError):
    pass


class Opaque:
    """A value that could not cross the boundary as data; compares unequal to everything."""

    def __init__(self, type_name: str, text: str):
        self.type_name, self.text = type_name, text

    def __eq__(self, other):
        return False

    def __hash__(self):
        return id(self)

    def __repr__(self):
        return f"<{self.type_name} object: {self.text}>"


def encode(value, _depth: int = 0, _budget: list | None = None):
    """`value` as JSON-able data (tagged dicts for non-JSON types)."""
    if _budget is None:
        _budget = [MAX_ITEMS]
    _budget[0] -= 1
    if _budget[0] < 0:
        raise EncodeError(f"the value is too large to check (more than {MAX_ITEMS} items)")
    if _depth > MAX_DEPTH:
        raise EncodeError(f"the value is nested more than {MAX_DEPTH} levels deep")
    t = type(value)
    if t is int and value.bit_length() > BIG_INT_BITS:
        return {"__bigint__": hex(value)}  # JSON cannot carry ints over 4300 digits
    if value is None or t is bool or t is int or t is str:
        return value
    if t is float:
        return value if math.isfinite(value) else {"__float__": repr(value)}
    if t is complex:
        return {
            "__complex__": [
                encode(value.real, _depth, _budget),
                encode(value.imag, _depth, _budget),
            ]
        }
    d = _depth + 1
    if t is list:
        return [encode(v, d, _budget) for v in value]
    if t is tuple:
        return {"__tuple__": [encode(v, d, _budget) for v in value]}
    if t in (set, frozenset):
        return {"__set__": [encode(v, d, _budget) for v in value]}
    if t is dict:
        return {
            "__dict__": [[encode(k, d, _budget), encode(v, d, _budget)] for k, v in value.items()]
        }
    if t is bytes:
        return {"__bytes__": base64.b64encode(value).decode()}
    np = _numpy()
    if np is not None:
        if t is np.ndarray and value.dtype.kind in "biufc":
            _budget[0] -= value.size
            if _budget[0] < 0:
                raise EncodeError(f"the array is too large to check ({value.size} elements)")
            arr = np.ascontiguousarray(value)
            return {
                "__ndarray__": {
                    "dtype": arr.dtype.str,
                    "shape": list(value.shape),  # 0-d too
                    "data": base64.b64encode(arr.tobytes()).decode(),
                }
            }
        if (
            isinstance(value, np.generic)
            and type(value).__module__ == "numpy"
            and value.dtype.kind in "biufcSU"
        ):  # .item() is plain data
            return {
                "__npscalar__": {
                    "dtype": value.dtype.str,
                    "value": encode(value.item(), d, _budget),
                }
            }
    return {"__opaque__": {"type": _type_name(value), "text": _safe_repr(value)}}


def decode(data):
    """The inverse of `encode`; opaque values become `Opaque` objects; malformed data: ValueError."""
    try:
        return _decode(data)
    except (TypeError, KeyError, AttributeError, IndexError) as exc:
        raise ValueError(f"malformed encoded value ({type(exc).__name__}: {exc})") from None


def _decode(data):
    if isinstance(data, list):
        return [decode(v) for v in data]
    if not isinstance(data, dict):
        return data
    if len(data) != 1:
        raise ValueError("malformed encoded value")
    ((tag, body),) = data.items()
    if tag == "__tuple__":
        return tuple(decode(v) for v in body)
    if tag == "__set__":
        return {_hashable(decode(v)) for v in body}
    if tag == "__dict__":
        return {_hashable(decode(k)): decode(v) for k, v in body}
    if tag == "__float__":
        return float(body) if body in ("nan", "inf", "-inf") else math.nan
    if tag == "__complex__":
        return complex(*(decode(v) for v in body))
    if tag == "__bigint__":
        return int(body, 16)
    if tag == "__bytes__":
        return base64.b64decode(body)
    if tag == "__ndarray__":
        np = _numpy()
        if np is None:
            return Opaque("numpy.ndarray", "numpy is not installed on the judge")
        arr = np.frombuffer(base64.b64decode(body["data"]), dtype=np.dtype(body["dtype"]))
        return arr.reshape(body["shape"]).copy()
    if tag == "__npscalar__":
        np = _numpy()
        value = decode(body["value"])
        return np.dtype(body["dtype"]).type(value) if np is not None else value
    if tag == "__opaque__":
        return Opaque(str(body.get("type")), str(body.get("text")))
    raise ValueError(f"unknown tag {tag!r} in encoded value")


def dumps(value) -> str:
    return json.dumps(encode(value))


def loads(text: str):
    return decode(json.loads(text))


def _hashable(key):
    """A decoded dict key or set member made hashable again (a frozenset comes back as a set)."""
    if isinstance(key, (list, tuple)):
        return tuple(_hashable(k) for k in key)
    return frozenset(_hashable(k) for k in key) if isinstance(key, set) else key


def _numpy():
    try:
        import numpy
    except ImportError:  # pragma: no cover - numpy is in the image and the venv
        return None
    return numpy


def _type_name(value) -> str:
    t = type(value)
    try:
        return f"{t.__module__}.{t.__qualname__}"
    except Exception:  # hostile metaclass
        return "object"


def _safe_repr(value, limit: int = 200) -> str:
    try:
        text = object.__repr__(value)
    except Exception:
        text = "?"
    return text[:limit]
