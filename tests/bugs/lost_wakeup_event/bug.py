"""Lost wake-up with `Event.set()`/`clear()`: the receiver checks for mail, *then* clears the event,
so a `set()` that lands between the two is wiped out and the receiver waits forever."""
import threading


class Mailbox:
    def __init__(self):
        self.event = threading.Event()
        self.items = []

    def put(self, x):
        self.items.append(x)
        self.event.set()

    def get(self):
        while not self.items:
            self.event.clear()
            self.event.wait()
        return self.items.pop(0)


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
