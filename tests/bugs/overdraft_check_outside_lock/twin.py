"""Funds checked under both locks (correct twin)."""
import threading


class Bank:
    def __init__(self, balances):
        self.balances = dict(balances)
        self.locks = {a: threading.Lock() for a in balances}

    def transfer(self, src, dst, amount):
        first, second = sorted((src, dst))
        with self.locks[first], self.locks[second]:
            if self.balances[src] < amount:
                return False
            self._apply(src, dst, amount)
        return True

    def _apply(self, src, dst, amount):
        self.balances[src] -= amount
        self.balances[dst] += amount


def run(rounds):
    """Each round: two transfers of A's whole balance at once; returns the rounds in which A
    went below zero."""
    overdrawn = 0
    for _ in range(rounds):
        bank = Bank({"A": 100, "B": 0, "C": 0})
        ts = [threading.Thread(target=bank.transfer, args=("A", d, 100)) for d in "BC"]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        overdrawn += bank.balances["A"] < 0
    return overdrawn
