"""Bank transfers between accounts with one lock each. See README.md for the exercise."""

import threading


class Bank:
    def __init__(self, balances):
        """balances: {account name: starting balance (int)}."""
        raise NotImplementedError

    def transfer(self, src, dst, amount):
        """Move `amount` from `src` to `dst`; False (and nothing moved) if `src` has too little."""
        raise NotImplementedError

    def balance(self, account):
        raise NotImplementedError

    def total(self):
        raise NotImplementedError
