"""Three locks in one global order (correct twin): the ring of transfers locks the lower account
id first."""
import threading


class Bank:
    def __init__(self, n):
        self.balances = [100] * n
        self.locks = [threading.Lock() for _ in range(n)]

    def transfer(self, src, dst, amount):
        first, second = sorted((src, dst))
        with self.locks[first]:
            with self.locks[second]:
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
