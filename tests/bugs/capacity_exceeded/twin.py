"""put() waits while the buffer is full (correct twin)."""
import threading


class BoundedBuffer:
    def __init__(self, capacity):
        self.capacity = capacity
        self.items = []
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


def run(capacity, n):
    buf = BoundedBuffer(capacity)
    out = []
    consumer = threading.Thread(target=lambda: [out.append(buf.get()) for _ in range(n)])
    consumer.start()
    for i in range(n):
        buf.put(i)
    consumer.join()
    return out
