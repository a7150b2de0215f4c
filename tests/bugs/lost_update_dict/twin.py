"""Lost update through a dict item: `counts[word] += 1` under the lock (correct twin)."""
import threading


class WordCount:
    def __init__(self, words):
        self.lock = threading.Lock()
        self.counts = {w: 0 for w in words}

    def add(self, word):
        with self.lock:
            self.counts[word] += 1


def run(n_threads, n):
    wc = WordCount(["a", "b"])
    ts = [threading.Thread(target=lambda i=i: [wc.add("ab"[(i + k) % 2]) for k in range(n)])
          for i in range(n_threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return sum(wc.counts.values())
