"""One RLock for the class: every box waits for every other box."""
import threading
import time


class Box:
    lock = threading.RLock()  # shared by every Box

    def __init__(self):
        self.total = 0

    def execute(self, n):
        with self.lock:
            time.sleep(0.001)  # the work done under the lock
            self.total += n

    def add(self, n=1):
        with self.lock:
            self.execute(n)


def run(n_boxes, n):
    boxes = [Box() for _ in range(n_boxes)]
    ts = [threading.Thread(target=lambda b=b: [b.add() for _ in range(n)]) for b in boxes]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return [b.total for b in boxes]
