"""The race checks see a read-modify-write done inside a library function the student's code calls.

The red team's `library_rmw_counter` updates its count with `Counter.update` (collections, pure
Python: it reads the count, calls `Fraction.__add__`, writes it back) and no lock. The controlled
scheduler now also passes the baton inside library functions entered from the student's code,
and the lockset counts their item writes on containers the student's instances keep
(`grader.checks.tracing`, `lockset.Lockset.on_library_opcode`). The same code with its lock
around the update is correct and must stay unflagged. Graded on the local backend (the same
agent as Docker's), the two race tests alone.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import ROOT, hidden_verdicts

TESTS = ["test_no_races_under_lockset", "test_no_lost_updates_under_forced_switches"]
ATTACK = (ROOT / "tests" / "attacks" / "library_rmw_counter" / "solution.py").read_text()

# The same counter with the update under its lock: Counter.update's write holds it.
LOCKED = ATTACK.replace(
    '        self._c.update({"v": Fraction(k)})  # no lock: read and write in library code\n'
    "        with self._lock:\n",
    '        with self._lock:\n            self._c.update({"v": Fraction(k)})\n',
).replace(
    '        self._c.update({"v": Fraction(-k)})\n        with self._lock:\n',
    '        with self._lock:\n            self._c.update({"v": Fraction(-k)})\n',
)


def _verdicts(tmp_path: Path, source: str) -> dict[str, str]:
    got = hidden_verdicts(tmp_path, "locked_counter", source, TESTS, seed=11)
    return {name: verdict for name, (verdict, _) in got.items()}


def test_the_attack_is_unlocked_inside_the_library():
    assert LOCKED != ATTACK and LOCKED.count("with self._lock:") == 2


def test_library_read_modify_write_is_a_race(tmp_path):
    got = _verdicts(tmp_path, ATTACK)
    assert got == {name: "race" for name in TESTS}, got


@pytest.mark.parametrize("source", [LOCKED], ids=["locked"])
def test_the_same_update_under_its_lock_passes(tmp_path, source):
    got = _verdicts(tmp_path, source)
    assert got == {name: "passed" for name in TESTS}, got


# The red team's `untraced_library_rmw`: the count kept in asyncio.Semaphore objects (not
# thread-safe: release() is `self._value += 1`) released from the threads with no lock. asyncio's
# primitives are followed like collections', and their attribute writes on objects the student's
# instances keep are watched. The same releases under the counter's lock are correct.
SEMAPHORES = (ROOT / "tests" / "attacks" / "untraced_library_rmw" / "solution.py").read_text()
SEMAPHORES_LOCKED = SEMAPHORES.replace(
    "        for _ in range(k):\n            self._ups.release()\n",
    "        with self._lock:\n            for _ in range(k):\n                self._ups.release()\n",
).replace(
    "        for _ in range(k):\n            self._downs.release()\n",
    "        with self._lock:\n            for _ in range(k):\n                self._downs.release()\n",
)


def test_asyncio_primitive_released_unlocked_is_a_race(tmp_path):
    assert SEMAPHORES_LOCKED.count("with self._lock:") == 3
    got = _verdicts(tmp_path, SEMAPHORES)
    assert got == {name: "race" for name in TESTS}, got


def test_asyncio_primitive_released_under_its_lock_passes(tmp_path):
    got = _verdicts(tmp_path, SEMAPHORES_LOCKED)
    assert got == {name: "passed" for name in TESTS}, got
