"""Takes the money first and gives it back when that overdrew the account; balance() reads
without the lock (a single read): for a moment another thread can see a negative balance."""

import contextlib
import threading


class Bank:
    def __init__(self, balances):
        self._balances = dict(balances)
        self._locks = {account: threading.Lock() for account in self._balances}

    def _holding(self, accounts):
        """Hold the locks of `accounts`, taken in one global order (sorted names)."""
        stack = contextlib.ExitStack()
        for account in sorted(accounts):
            stack.enter_context(self._locks[account])
        return stack

    def transfer(self, src, dst, amount):
        if src == dst:
            raise ValueError("cannot transfer from an account to itself")
        if amount <= 0:
            raise ValueError("the amount must be positive")
        self._locks[src], self._locks[dst]  # KeyError for an unknown account
        with self._holding((src, dst)):
            self._balances[src] -= amount
            if self._balances[src] < 0:  # overdrawn: give it back
                self._balances[src] += amount
                return False
            self._balances[dst] += amount
            return True

    def balance(self, account):
        return self._balances[account]  # one read of an int: no lock needed

    def total(self):
        with self._holding(self._locks):
            return sum(self._balances.values())
