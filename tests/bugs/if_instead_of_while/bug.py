"""`if` instead of `while` around `Condition.wait()`: a woken consumer does not check again, so
when two consumers wake for one item the second pops from an empty buffer."""
import threading


class Buffer:
    def __init__(self):
        self.cond = threading.Condition()
        self.items = []

    def put(self, x):
        with self.cond:
            self.items.append(x)
            self.cond.notify_all()

    def get(self):
        with self.cond:
            if not self.items:
                self.cond.wait()
            return self.items.pop(0)


def run(n_consumers, n):
    buf, out = Buffer(), []
    def consume():
        for _ in range(n):
            out.append(buf.get())
    ts = [threading.Thread(target=consume) for _ in range(n_consumers)]
    for t in ts:
        t.start()
    for i in range(n * n_consumers):
        buf.put(i)
    for t in ts:
        t.join()
    return sorted(out) == list(range(n * n_consumers))
