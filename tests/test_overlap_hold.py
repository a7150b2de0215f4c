"""bank_transfers' overlap test holds the transfer in the middle of its work *inside its lock*.

The red team's `bank_global_lock_int_amount` (one lock for the whole bank, `amount = int(amount)`
before locking) used to be held outside its lock, where the other transfer ran past it. The test
now holds the transfer only while it holds a lock (`grader.checks.holding`, live in every
request), at each such moment in turn, at its amount's or its balances' arithmetic. Graded on
the local backend (the same agent as Docker's), the overlap test alone.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from conftest import ROOT
from grader.course import load_course
from grader.grade import grade_submission

COURSE = load_course(ROOT)
TEST = "test_disjoint_transfers_overlap"
REFERENCE = (ROOT / "solutions" / "bank_transfers" / "solution.py").read_text()
ATTACK = (ROOT / "tests" / "attacks" / "bank_global_lock_int_amount" / "solution.py").read_text()

# A bank whose one lock is hidden behind a private lock taken first, around the amount's
# conversion: held there, the other transfer would finish; held at the balances, it waits.
PRIVATE_LOCK_FIRST = ATTACK.replace(
    "        amount = int(amount)  # a plain int from here on (outside the lock)\n",
    "        with threading.Lock():\n            amount = int(amount)\n",
)

# Correct banks that do something before taking the accounts' locks: convert the amount, or
# look the locks up (made on first use) under a registry lock of their own.
CONVERTS_FIRST = REFERENCE.replace(
    "    def transfer(self, src, dst, amount):\n",
    "    def transfer(self, src, dst, amount):\n        amount = int(amount)\n",
)
REGISTRY_LOCK = textwrap.dedent("""
    import threading


    class Bank:
        def __init__(self, balances):
            self._balances = dict(balances)
            self._registry = threading.Lock()
            self._locks = {}

        def _lock(self, account):
            with self._registry:
                self._balances[account]  # KeyError for an unknown account
                return self._locks.setdefault(account, threading.Lock())

        def transfer(self, src, dst, amount):
            if src == dst:
                raise ValueError("cannot transfer from an account to itself")
            if amount <= 0:
                raise ValueError("the amount must be positive")
            first, second = sorted((src, dst))
            with self._lock(first), self._lock(second):
                if self._balances[src] < amount:
                    return False
                self._balances[src] -= amount
                self._balances[dst] += amount
                return True

        def balance(self, account):
            with self._lock(account):
                return self._balances[account]

        def total(self):
            locks = [self._lock(a) for a in sorted(self._balances)]
            for lock in locks:
                lock.acquire()
            try:
                return sum(self._balances.values())
            finally:
                for lock in reversed(locks):
                    lock.release()
""")


def _overlap_verdict(tmp_path: Path, source: str) -> tuple[str, str]:
    src = tmp_path / "solution.py"
    src.write_text(source)
    exercise = COURSE.exercise("bank_transfers")
    result = grade_submission(
        COURSE, exercise, src, backend="local", suites=("hidden",), only=[TEST], seed=7
    )
    (record,) = [t for t in result.tests if t.function == TEST]
    return str(record.verdict), record.message or ""


@pytest.mark.parametrize("source", [ATTACK, PRIVATE_LOCK_FIRST], ids=["int_amount", "private_lock"])
def test_one_global_lock_is_held_inside_its_lock(tmp_path, source):
    verdict, message = _overlap_verdict(tmp_path, source)
    assert verdict == "failed", (verdict, message)
    assert "held a lock and was in the middle of moving money" in message


@pytest.mark.parametrize(
    "source", [REFERENCE, CONVERTS_FIRST, REGISTRY_LOCK], ids=["reference", "converts", "registry"]
)
def test_correct_banks_still_overlap(tmp_path, source):
    verdict, message = _overlap_verdict(tmp_path, source)
    assert verdict == "passed", (verdict, message)
