"""Three-lock order inversion: three threads pass money around a ring 0 -> 1 -> 2 -> 0, each
locking its source, then its destination: a cycle of three locks."""
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
    bank = Bank(3)
    ts = [threading.Thread(target=lambda s=s: [bank.transfer(s, (s + 1) % 3, 1) for _ in range(n)])
          for s in range(3)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return bank.balances
