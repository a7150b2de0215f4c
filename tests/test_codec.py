"""The strict JSON codec values cross the sandbox boundary with: plain data round-trips, anything
else becomes an Opaque that equals nothing, and there is no pickle or eval anywhere."""

from __future__ import annotations

import ast
import io
import json
import math
import tokenize
from pathlib import Path

import numpy as np
import pytest

from grader.agent import codec
from grader.agent.codec import EncodeError, Opaque, decode, dumps, encode, loads

ROOT = Path(__file__).resolve().parents[1]


def round_trip(value):
    text = dumps(value)
    # strict JSON: no NaN/Infinity tokens, parses with a strict parser
    json.loads(text, parse_constant=lambda c: pytest.fail(f"non-standard JSON constant {c}"))
    return loads(text)


PLAIN = [
    None,
    True,
    False,
    0,
    -1,
    2**100,
    -(2**70),
    0.0,
    -0.0,
    1.5,
    1e-300,
    "",
    "héllo ✓ 🧵",
    "\0\n",
    [],
    [1, "a", None],
    (),
    (1,),
    (1, (2, (3,))),
    {},
    {"a": 1},
    {1: "one", 2: "two"},
    {-1: [1, 2], 10**20: ()},
    {(1, 2): "pair", None: 0, True: "t", 1.5: "f"},
    set(),
    {1, 2, 3},
    {"a", (1, 2)},
    frozenset({1, 2}),
    b"",
    b"\x00\xff bytes",
    {"nested": [{"deep": ({1, 2}, [3, {"x": (4, 5)}])}, (b"ab", None)]},
]


@pytest.mark.parametrize("value", PLAIN, ids=lambda v: repr(v)[:40])
def test_plain_values_round_trip(value):
    back = round_trip(value)
    assert back == value
    assert type(back) is type(value) or (type(value) is frozenset and type(back) is set)


def test_types_are_kept_exactly():
    back = round_trip([(1, 2), [1, 2], {1: 2}, {1, 2}, True, 1, 1.0, "1", b"1"])
    assert [type(v) for v in back] == [tuple, list, dict, set, bool, int, float, str, bytes]
    assert back[4] is True
    assert list(round_trip({3: "c", 1: "a", 2: "b"})) == [3, 1, 2]  # order kept


def test_int_keys_stay_ints():
    back = round_trip({1: "a", "1": "b"})
    assert back == {1: "a", "1": "b"} and len(back) == 2


@pytest.mark.parametrize(
    "value, check",
    [
        (math.nan, math.isnan),
        (math.inf, lambda v: v == math.inf),
        (-math.inf, lambda v: v == -math.inf),
    ],
)
def test_nan_and_inf(value, check):
    back = round_trip(value)
    assert type(back) is float and check(back)
    [inner] = round_trip([value])
    assert check(inner)


def test_frozensets_as_keys_and_members():
    value = {frozenset({1, 2}): "a", (1, frozenset({3})): "b"}
    back = round_trip(value)
    assert back == value
    assert round_trip({frozenset({1}), frozenset({2, 3})}) == {frozenset({1}), frozenset({2, 3})}


ARRAYS = [
    np.arange(12, dtype=np.int64).reshape(3, 4),
    np.arange(24, dtype=np.int32).reshape(2, 3, 4),
    np.array([1, 2, 255], dtype=np.uint8),
    np.array([0.5, -1.25, np.nan, np.inf], dtype=np.float64),
    np.linspace(0, 1, 7, dtype=np.float32),
    np.array([1 + 2j, -3j], dtype=np.complex128),
    np.array([True, False, True]),
    np.zeros((0, 3)),
    np.array(7.5),  # 0-d
    np.arange(6, dtype=">i4"),  # big-endian
    np.asfortranarray(np.arange(6.0).reshape(2, 3)),
    np.arange(20)[::3],  # not contiguous
    np.float16([1.5, 2.5]),
]


@pytest.mark.parametrize("array", ARRAYS, ids=lambda a: f"{a.dtype}{a.shape}")
def test_numpy_arrays_round_trip(array):
    back = round_trip(array)
    assert type(back) is np.ndarray
    assert back.dtype == array.dtype
    assert back.shape == array.shape
    assert np.array_equal(back, array, equal_nan=array.dtype.kind in "fc")
    back[...] = 0 if back.size else back  # a writable copy, not a view of a bytes buffer


def test_arrays_inside_containers():
    value = {"a": [np.arange(3), (np.eye(2),)]}
    back = round_trip(value)
    assert np.array_equal(back["a"][0], np.arange(3))
    assert np.array_equal(back["a"][1][0], np.eye(2))


@pytest.mark.parametrize(
    "scalar",
    [
        np.float64(2.5),
        np.float32(-1.5),
        np.int64(-7),
        np.int8(3),
        np.uint16(65535),
        np.bool_(True),
        np.float64("nan"),
        np.complex128(1 + 2j),
    ],
    ids=repr,
)
def test_numpy_scalars_round_trip(scalar):
    back = round_trip(scalar)
    assert type(back) is type(scalar)
    assert back == scalar or (np.isnan(scalar) and np.isnan(back))


def test_complex_numbers_round_trip():
    assert round_trip(1 + 2j) == 1 + 2j and type(round_trip(1j)) is complex


# ---------------------------------------------------------------- opaque values


class Liar(int):
    def __eq__(self, other):
        return True

    __hash__ = int.__hash__


class Thing:
    def __repr__(self):
        raise RuntimeError("a hostile repr")


class FakeArray(np.ndarray):
    def __eq__(self, other):
        return True


@pytest.mark.parametrize(
    "make",
    [
        lambda: Liar(5),
        lambda: Thing(),
        lambda: object(),
        lambda: print,
        lambda: type,
        lambda: np.arange(3).view(FakeArray),
        lambda: np.array([object()]),
        lambda: np.datetime64("2026-01-01"),
        lambda: iter([1]),
        lambda: type("S", (str,), {"__eq__": lambda s, o: True})("x"),
        lambda: type("F", (float,), {"__eq__": lambda s, o: True})(1.0),
    ],
    ids=[
        "int subclass",
        "object with hostile repr",
        "object",
        "function",
        "class",
        "ndarray subclass",
        "object array",
        "datetime64",
        "iterator",
        "str subclass",
        "float subclass",
    ],
)
def test_anything_else_is_opaque_and_equals_nothing(make):
    value = make()
    back = round_trip(value)
    assert isinstance(back, Opaque)
    assert back != back and not (back == back)
    assert back != value and not (back == value)
    for other in [5, 1.0, "x", None, True, [], back, Opaque(back.type_name, back.text)]:
        assert back != other and not (back == other)
        assert other != back and not (other == back)
    assert isinstance(repr(back), str)


def test_a_lying_int_cannot_pass_for_the_right_answer():
    back = round_trip([Liar(4000), {"total": Liar(4000)}, (Liar(1),)])
    assert back != [4000, {"total": 4000}, (1,)]
    assert isinstance(back[0], Opaque) and back[0] != 4000
    assert isinstance(back[1]["total"], Opaque)
    assert "Liar" in back[0].type_name


def test_opaque_values_are_hashable():
    back = round_trip({Thing(): 1, "x": {object()}})
    assert len(back) == 2


# ---------------------------------------------------------------- limits


def test_too_deep_is_refused():
    value = []
    for _ in range(codec.MAX_DEPTH + 5):
        value = [value]
    with pytest.raises(EncodeError, match="nested"):
        encode(value)
    very = []
    for _ in range(100_000):
        very = [very]
    with pytest.raises(EncodeError):
        encode(very)  # refused, not a RecursionError


def test_deep_but_within_limit_is_fine():
    value = 0
    for _ in range(codec.MAX_DEPTH - 1):
        value = (value,)
    assert round_trip(value) == value


def test_too_many_items_is_refused(monkeypatch):
    monkeypatch.setattr(codec, "MAX_ITEMS", 1000)
    encode(list(range(900)))
    with pytest.raises(EncodeError, match="too large"):
        encode(list(range(1001)))
    with pytest.raises(EncodeError, match="too large"):
        encode({i: [i, i] for i in range(400)})


def test_too_large_array_is_refused():
    with pytest.raises(EncodeError, match="too large"):
        encode(np.zeros(codec.MAX_ITEMS + 1, dtype=np.uint8))
    with pytest.raises(EncodeError):
        encode([np.zeros(codec.MAX_ITEMS // 2 + 1, dtype=np.uint8)] * 2)


def test_encode_error_is_a_value_error():
    assert issubclass(EncodeError, ValueError)


# ---------------------------------------------------------------- malformed input


@pytest.mark.parametrize(
    "data",
    [
        {"__pickle__": "gASVAAAAAA=="},
        {"__tuple__": [1], "__set__": [2]},
        {"plain": 1},
        {"__tuple__": 5},
        {"__dict__": 3},
        {"__dict__": [[1]]},
        {"__dict__": [[{"__dict__": []}, 2]]},
        {"__set__": [{"__dict__": []}]},
        {"__complex__": ["x", 1]},
        {"__bytes__": "x"},
        {"__ndarray__": {"dtype": "<f8"}},
        {"__ndarray__": {"dtype": "|O", "shape": [1], "data": "AAAAAAAAAAA="}},
        {"__ndarray__": {"dtype": "<f8", "shape": [3], "data": "AAAAAAAAAAA="}},
        {"__ndarray__": "x"},
        {"__npscalar__": {"dtype": "zz", "value": 1}},
        {"__opaque__": 3},
        [{"__nope__": 1}],
    ],
    ids=repr,
)
def test_malformed_input_raises_value_error(data):
    with pytest.raises(ValueError):
        decode(data)


def test_unknown_float_text_is_not_evaluated():
    assert math.isnan(decode({"__float__": "__import__('os').system('true')"}))


# ---------------------------------------------------------------- no pickle, no eval


def _code_tokens(path: Path):
    """(line, token text) of every NAME and non-docstring STRING token of the file."""
    source = path.read_text()
    docstrings = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body
            if (
                body
                and isinstance(body[0], ast.Expr)
                and isinstance(body[0].value, ast.Constant)
                and isinstance(body[0].value.value, str)
            ):
                docstrings.add(body[0].lineno)
    tokens = list(tokenize.generate_tokens(io.StringIO(source).readline))
    for i, tok in enumerate(tokens):
        if tok.type == tokenize.NAME:
            following = tokens[i + 1].string if i + 1 < len(tokens) else ""
            yield tok.start[0], tok.string, following
        elif tok.type == tokenize.STRING and tok.start[0] not in docstrings:
            yield tok.start[0], tok.string, ""


# Modules that name pickle or marshal only to refuse or report them in student code (audit
# events, import names): strings there are allowed, a use (a NAME token) is not.
DETECTORS = {"grader/agent/audit.py", "grader/judge/suspicion.py"}


def test_no_pickle_and_no_eval_in_the_grader():
    sources = sorted((ROOT / "grader").rglob("*.py"))
    assert len(sources) > 10
    found = []
    for path in sources:
        rel = path.relative_to(ROOT)
        for line, text, following in _code_tokens(path):
            lowered = text.lower()
            named = rel.as_posix() in DETECTORS and text[:1] in "'\""
            if not named and any(word in lowered for word in ("pickle", "marshal", "shelve")):
                found.append(f"{rel}:{line}: {text}")
            if text == "eval" and following == "(":
                found.append(f"{rel}:{line}: eval(")
    assert not found, "\n".join(found)


def test_the_scan_would_see_pickle(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text(
        '"""no pickle here"""\n# no pickle\nimport pickle\nx = eval("1")\n'
        'y = __import__("cPickle")\n'
    )
    hits = [
        (line, text)
        for line, text, following in _code_tokens(sample)
        if "pickle" in text.lower() or (text == "eval" and following == "(")
    ]
    assert [line for line, _ in hits] == [3, 4, 5]
