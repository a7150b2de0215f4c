"""bank_transfers' overlap test holds the transfer in the middle of its work *inside its lock*.

The red team's `bank_global_lock_int_amount` (one lock for the whole bank, `amount = int(amount)`
before locking) used to be held outside its lock, where the other transfer ran past it. The test
now holds the transfer only while it holds a lock (`grader.checks.holding`, live in every
request), at each such moment in turn, at its amount's or its balances' arithmetic. Graded on
the local backend (the same agent as Docker's), the overlap test alone.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import ROOT, hidden_verdicts

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
# look each lock up under a registry lock of their own.
CONVERTS_FIRST = REFERENCE.replace(
    "    def transfer(self, src, dst, amount):\n",
    "    def transfer(self, src, dst, amount):\n        amount = int(amount)\n",
)
REGISTRY_LOCK = REFERENCE.replace(
    "            stack.enter_context(self._locks[account])\n",
    "            stack.enter_context(self._lock(account))\n",
).replace(
    "    def transfer(self, src, dst, amount):\n",
    "    _registry = threading.Lock()\n\n"
    "    def _lock(self, account):\n"
    "        with self._registry:  # one lock for the lookups, none for the work\n"
    "            return self._locks[account]\n\n"
    "    def transfer(self, src, dst, amount):\n",
)


def _overlap_verdict(tmp_path: Path, source: str) -> tuple[str, str]:
    return hidden_verdicts(tmp_path, "bank_transfers", source, [TEST], seed=7)[TEST]


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


def test_the_variants_differ_from_what_they_are_built_on():
    assert "with threading.Lock():\n            amount = int(amount)" in PRIVATE_LOCK_FIRST
    assert "amount = int(amount)" in CONVERTS_FIRST and "self._lock(account)" in REGISTRY_LOCK
