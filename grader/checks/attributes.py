"""Which object an attribute write (`STORE_ATTR`) about to run in a library frame writes, for
lockset.

As in `subscripts`, found from the code, not the value stack: in CPython 3.11 `obj.a = v`
compiles to `<v> LOAD_FAST obj; STORE_ATTR a` and `obj.a += v` to
`LOAD_FAST obj; COPY 1; LOAD_ATTR a; <v>; BINARY_OP; SWAP 2; STORE_ATTR a`. When the object is
a local name (`self` in a method: `Semaphore.release` writes `self._value += 1`) it is looked
up again in the frame; anything else is not watched: a missed write, never a wrong one.
"""

from __future__ import annotations

import dis

STORE_ATTR = dis.opmap["STORE_ATTR"]
_LOCALS = ("LOAD_FAST", "LOAD_DEREF")
_plans: dict = {}  # code object -> {offset: (local name, attribute)}
_MISSING = object()


def _plan(code) -> dict:
    ins = list(dis.get_instructions(code))
    plan = {}
    for n, store in enumerate(ins):
        if store.opcode != STORE_ATTR:
            continue
        j = n - 1
        if j >= 0 and ins[j].opname == "SWAP" and ins[j].arg == 2:  # augmented assignment
            j = next(
                (
                    k - 1
                    for k in range(j - 1, 0, -1)
                    if ins[k].opname == "COPY"
                    and ins[k].arg == 1
                    and ins[k + 1].opname == "LOAD_ATTR"
                    and ins[k + 1].argval == store.argval
                ),
                -1,
            )
        if j >= 0 and ins[j].opname in _LOCALS:
            plan[store.offset] = (ins[j].argval, store.argval)
    return plan


def resolve(frame):
    """`(object, attribute)` of the attribute write about to run in `frame`, or None."""
    code = frame.f_code
    plan = _plans.get(code)
    if plan is None:
        plan = _plans[code] = _plan(code)
    found = plan.get(frame.f_lasti)
    if found is None:
        return None
    obj = frame.f_locals.get(found[0], _MISSING)
    return None if obj is _MISSING else (obj, found[1])
