"""One lock for the whole bank: transfers on disjoint accounts never overlap."""
import threading
import time


class Bank:
    big_lock = threading.Lock()

    def __init__(self, balances):
        self.balances = dict(balances)
        self.locks = {a: threading.Lock() for a in balances}

    def transfer(self, src, dst, amount):
        with self.big_lock:
            return self._apply(src, dst, amount)

    def _apply(self, src, dst, amount):
        if self.balances[src] < amount:
            return False
        time.sleep(0.001)  # the ledger write
        self.balances[src] -= amount
        self.balances[dst] += amount
        return True


def run(n):
    """Transfers A->B and C->D (disjoint accounts) in two threads; the balances after."""
    bank = Bank({"A": n, "B": 0, "C": n, "D": 0})
    ts = [threading.Thread(target=lambda s=s, d=d: [bank.transfer(s, d, 1) for _ in range(n)])
          for s, d in (("A", "B"), ("C", "D"))]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return [bank.balances[a] for a in "ABCD"]
