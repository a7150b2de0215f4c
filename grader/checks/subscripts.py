"""Which container item a `STORE_SUBSCR`/`DELETE_SUBSCR` about to run will write, for lockset.

A tracer sees instructions but not the interpreter's value stack, so the container and
the key are found from the code instead: in CPython 3.11, `x.a.b[k] = v` compiles to
`<v> LOAD x; LOAD_ATTR a; LOAD_ATTR b; LOAD k; STORE_SUBSCR` and `x[k] += v` to
`LOAD x; LOAD k; COPY 2; COPY 2; BINARY_SUBSCR; <v>; BINARY_OP; SWAP 3; SWAP 2; STORE_SUBSCR`.
When the container is a name followed by attributes and the key a name or a constant, both
are looked up again in the frame (attributes only from instance or module dictionaries, so
no property or `__getattr__` of the student's runs). Anything else is not watched: a missed
write, never a wrong one.

Only built-in containers count (a class with its own Python `__setitem__` may lock inside it,
and multiprocessing proxies are another process's state). `obj.__dict__[k] = v` counts as a
write of the attribute `k` of `obj`.
"""

from __future__ import annotations

import dis
import inspect

OPCODES = frozenset((dis.opmap["STORE_SUBSCR"], dis.opmap["DELETE_SUBSCR"]))
_NAMES = ("LOAD_FAST", "LOAD_DEREF", "LOAD_CLOSURE", "LOAD_GLOBAL", "LOAD_NAME")
_KEYS = _NAMES + ("LOAD_CONST",)
_plans: dict = {}  # code object -> {offset: (root load, attribute chain, key load)}


def _plan(code) -> dict:
    """Offsets of the item writes of `code` whose container and key can be found again."""
    ins = list(dis.get_instructions(code))
    plan = {}
    for n, store in enumerate(ins):
        if store.opcode not in OPCODES:
            continue
        j = n - 1
        if j >= 1 and ins[j].opname == ins[j - 1].opname == "SWAP":  # augmented assignment
            j = next(
                (
                    k - 3
                    for k in range(j - 2, 1, -1)
                    if ins[k].opname == "BINARY_SUBSCR"
                    and ins[k - 1].opname == ins[k - 2].opname == "COPY"
                ),
                -1,
            )
        if j < 1 or ins[j].opname not in _KEYS:
            continue
        key = (ins[j].opname, ins[j].argval)
        chain = []
        j -= 1
        while j >= 0 and ins[j].opname == "LOAD_ATTR":
            chain.append(ins[j].argval)
            j -= 1
        if j >= 0 and ins[j].opname in _NAMES:
            plan[store.offset] = ((ins[j].opname, ins[j].argval), tuple(reversed(chain)), key)
    return plan


_MISSING = object()


def _load(frame, op: str, name):
    if op == "LOAD_CONST":
        return name
    if op in ("LOAD_GLOBAL", "LOAD_NAME"):
        value = frame.f_globals.get(name, _MISSING)
        return frame.f_builtins.get(name, _MISSING) if value is _MISSING else value
    return frame.f_locals.get(name, _MISSING)


def _attr(obj, name):
    try:
        if name == "__dict__":
            return vars(obj)
        return vars(obj).get(name, _MISSING)
    except TypeError:  # no instance dictionary (slots, builtins)
        return _MISSING


def watched(container) -> bool:
    """A container whose item writes are watched (a built-in `__setitem__`)."""
    setitem = getattr(type(container), "__setitem__", None)
    return setitem is not None and not inspect.isfunction(setitem)


def _hashable(key):
    if isinstance(key, slice):
        return ("slice", key.start, key.stop, key.step)
    try:
        hash(key)
    except TypeError:
        return _MISSING
    return key


def resolve(frame):
    """`(variable key, label, container)` for the item write about to run in `frame`, or None."""
    code = frame.f_code
    plan = _plans.get(code)
    if plan is None:
        plan = _plans[code] = _plan(code)
    step = plan.get(frame.f_lasti)
    if step is None:
        return None
    (root_op, root), chain, (key_op, key_name) = step
    obj = owner = _load(frame, root_op, root)
    for attr in chain:
        if obj is _MISSING:
            return None
        owner, obj = obj, _attr(obj, attr)
    key = _hashable(_load(frame, key_op, key_name))
    if obj is _MISSING or key is _MISSING or not watched(obj):
        return None
    if chain and chain[-1] == "__dict__" and isinstance(key, str):
        return ("attr", id(owner), key), f"{type(owner).__name__}.{key}", owner
    label = ".".join((root, *chain)) + f"[{short(key)}]"
    return ("item", id(obj), key), label, obj


def short(key) -> str:
    text = repr(key)
    return text if len(text) <= 30 else text[:27] + "..."
