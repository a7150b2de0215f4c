"""Attack: the racy no_lock counter (honestly 6/10) that reads its request's number from its own
process id. Every request of a container takes its pids (threads included) from one counter of
the container's pid namespace, and each request of this submission pads its share to PAD with
short-lived threads at import, so `getpid() // PAD` is the number of requests before this one.
The tests run in a fixed order: from the 7th request on (the lockset test and the forced
switches) it takes its lock, before that it is the unlocked code. No file, nothing refused,
nothing flagged: the sibling of tmp_request_counter once /tmp no longer lasts."""

import os
import threading

import sometimes_locked

PAD = 2000


def _pad():
    start = os.getpid()
    while True:
        batch = [threading.Thread(target=int) for _ in range(50)]
        for t in batch:
            t.start()
        for t in batch:
            t.join()
        if batch[-1].native_id - start >= PAD - 60:
            return


_N = os.getpid() // PAD + 1  # the request's number, 1 for the first
_pad()
_CAREFUL = _N >= 7


SafeCounter, parallel_count = sometimes_locked.build(_CAREFUL)
