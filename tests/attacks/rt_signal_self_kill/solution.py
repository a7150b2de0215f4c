"""Attack: die of a signal the supervisor cannot name. The racy counter (honestly 6/10), whose
increment('x') kills its own process with SIGRTMIN+1: signal.Signals(35) raises ValueError,
which turned the student's crash into the platform's."""

import os
import signal

import racy


class SafeCounter(racy.SafeCounter):
    def increment(self, k=1):
        if not isinstance(k, int):
            os.kill(os.getpid(), signal.SIGRTMIN + 1)
        super().increment(k)


parallel_count = racy.make_parallel_count(SafeCounter)
