"""`Event.set()`/`clear()` without a lost wake-up (correct twin): the receiver clears the event
*before* it checks for mail, so a `set()` after the check is never wiped out."""
import threading


class Mailbox:
    def __init__(self):
        self.event = threading.Event()
        self.items = []

    def put(self, x):
        self.items.append(x)
        self.event.set()

    def get(self):
        while True:
            self.event.clear()
            if self.items:
                return self.items.pop(0)
            self.event.wait()


def run(n):
    """Ping-pong: the main thread sends 0..n-1, a worker answers each with its double."""
    requests, replies = Mailbox(), Mailbox()
    def worker():
        for _ in range(n):
            replies.put(2 * requests.get())
    t = threading.Thread(target=worker)
    t.start()
    got = []
    for i in range(n):
        requests.put(i)
        got.append(replies.get())
    t.join()
    return got == [2 * i for i in range(n)]
