"""Re-entry that needs an RLock: `deposit` holds the account's `Lock` and calls `audit`, which
takes the same lock again, so the thread waits for itself."""
import threading


class Account:
    def __init__(self):
        self.lock = threading.Lock()
        self.balance = 0

    def deposit(self, k):
        with self.lock:
            self.balance += k
            self.audit()

    def audit(self):
        with self.lock:
            assert self.balance >= 0


def run(n_threads, n):
    acc = Account()
    ts = [threading.Thread(target=lambda: [acc.deposit(1) for _ in range(n)]) for _ in range(n_threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return acc.balance
