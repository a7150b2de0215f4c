"""Quinn: a JoinableQueue and task_done; the parent waits for the queue to empty."""

import multiprocessing


def fib(n):
    if n < 2:
        return n
    x, y = 0, 1
    for _ in range(n - 1):
        x, y = y, x + y
    return y


class FibWorker(multiprocessing.Process):
    def __init__(self, jobs, done):
        super().__init__()
        self.jobs = jobs
        self.done = done

    def run(self):
        while True:
            job = self.jobs.get()
            try:
                if job is None:
                    return
                self.done.put({job: fib(job)})
            finally:
                self.jobs.task_done()


def parallel_fib(values, n_consumers):
    jobs = multiprocessing.JoinableQueue()
    done = multiprocessing.Queue()
    values = list(values)
    workers = [FibWorker(jobs, done) for _ in range(n_consumers)]
    for w in workers:
        w.start()
    for v in values:
        jobs.put(v)
    for _ in workers:
        jobs.put(None)
    merged = {}
    while len(merged) < len(set(values)):
        merged.update(done.get())
    jobs.join()
    for w in workers:
        w.join()
    return merged
