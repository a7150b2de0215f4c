"""Attack: symbolic links in an archive. This skeleton goes in the zip next to `helper.py`, a
symbolic link to the host canary, and `notes.txt`, a symbolic link to /etc/passwd."""


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
