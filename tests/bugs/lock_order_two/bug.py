"""Two-lock order inversion: `transfer(a, b)` locks the source account, then the destination, so
transfers in opposite directions can each hold one lock and wait for the other."""
import threading


class Bank:
    def __init__(self, n):
        self.balances = [100] * n
        self.locks = [threading.Lock() for _ in range(n)]

    def transfer(self, src, dst, amount):
        with self.locks[src]:
            with self.locks[dst]:
                self.balances[src] -= amount
                self.balances[dst] += amount


def run(n):
    bank = Bank(2)
    ts = [threading.Thread(target=lambda s=s: [bank.transfer(s, 1 - s, 1) for _ in range(n)])
          for s in (0, 1)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return bank.balances
