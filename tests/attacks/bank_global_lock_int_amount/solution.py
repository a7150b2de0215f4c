"""The one_global_lock mutant (one lock for the whole bank: transfers on different accounts
never overlap) that first turns the amount into a plain int, outside the lock: the overlap test
holds a transfer in the middle of its work through the amount's arithmetic, so the wait now
happens before the lock is taken, and the other transfer runs past it."""

import threading


class Bank:
    def __init__(self, balances):
        self._balances = dict(balances)
        self._lock = threading.Lock()
        self._locks = {account: self._lock for account in self._balances}

    def _holding(self, accounts):
        """One lock for the whole bank."""
        return self._lock

    def transfer(self, src, dst, amount):
        amount = int(amount)  # a plain int from here on (outside the lock)
        if src == dst:
            raise ValueError("cannot transfer from an account to itself")
        if amount <= 0:
            raise ValueError("the amount must be positive")
        self._locks[src], self._locks[dst]  # KeyError for an unknown account
        with self._holding((src, dst)):
            if self._balances[src] < amount:
                return False
            self._balances[src] -= amount
            self._balances[dst] += amount
            return True

    def balance(self, account):
        with self._locks[account]:
            return self._balances[account]

    def total(self):
        with self._holding(self._locks):
            return sum(self._balances.values())
