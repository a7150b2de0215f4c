"""Attack: zip slip. The skeleton (0/10), handed in as a zip whose other members are named
`../../.../<host canary>` and `/<host canary>` (and a backslash variant), so that a naive
extraction would overwrite the canary on the grading host."""


class SafeCounter:
    def __init__(self):
        raise NotImplementedError

    def increment(self, k=1):
        raise NotImplementedError

    def decrement(self, k=1):
        raise NotImplementedError

    @property
    def value(self):
        raise NotImplementedError


def parallel_count(n_threads, n_increments):
    raise NotImplementedError
