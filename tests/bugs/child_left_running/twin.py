"""An overdue child is terminated, then joined (correct twin)."""
import multiprocessing
import time


def slow(seconds):
    time.sleep(seconds)


def run(work_seconds, deadline):
    """Run slow(work_seconds) in a child; stop it at the deadline; its exit code."""
    p = multiprocessing.Process(target=slow, args=(work_seconds,))
    p.start()
    p.join(deadline)
    if p.is_alive():
        p.terminate()
        p.join()
    return p.exitcode
