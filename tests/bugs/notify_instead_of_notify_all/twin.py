"""notify_all(): every waiter re-checks its own condition (correct twin)."""
import threading


class Buffer:
    def __init__(self, capacity):
        self.capacity, self.items = capacity, []
        self.cond = threading.Condition()

    def put(self, item):
        with self.cond:
            while len(self.items) >= self.capacity:
                self.cond.wait()
            self.items.append(item)
            self.cond.notify_all()

    def get(self):
        with self.cond:
            while not self.items:
                self.cond.wait()
            item = self.items.pop(0)
            self.cond.notify_all()
            return item


def run(n_pairs, n):
    buf, got = Buffer(1), []
    producers = [threading.Thread(target=lambda: [buf.put(i) for i in range(n)])
                 for _ in range(n_pairs)]
    consumers = [threading.Thread(target=lambda: got.extend(buf.get() for _ in range(n)))
                 for _ in range(n_pairs)]
    for t in producers + consumers:
        t.start()
    for t in producers + consumers:
        t.join()
    return len(got) == n_pairs * n
