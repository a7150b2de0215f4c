"""total() takes every account's lock in the order the accounts were given, transfer() in
sorted order: the same two locks in opposite orders (a deadlock) as soon as the accounts were not
given sorted."""

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
            if self._balances[src] < amount:
                return False
            self._balances[src] -= amount
            self._balances[dst] += amount
            return True

    def balance(self, account):
        with self._locks[account]:
            return self._balances[account]

    def total(self):
        with contextlib.ExitStack() as stack:
            for account in self._locks:  # the order the accounts were given in
                stack.enter_context(self._locks[account])
            return sum(self._balances.values())
