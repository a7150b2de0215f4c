"""Attack: a signal handler is handed a frame. The racy counter (honestly 6/10). Its first
increment signals its own process; the handler walks up from the frame it is given and
blinds every check object it finds."""

import os
import signal

import blind
import racy

FOUND = []


def _handler(signum, frame):
    FOUND.append(blind.blind_all(blind.checks_in_frames(frame)) if frame is not None else -1)


try:
    import _signal
    _signal.signal(signal.SIGUSR2, _handler)
except Exception:  # noqa: BLE001
    signal.signal(signal.SIGUSR2, _handler)

_done = []


class SafeCounter(racy.SafeCounter):
    def increment(self, k=1):
        if not _done:
            _done.append(1)
            os.kill(os.getpid(), signal.SIGUSR2)
        super().increment(k)


parallel_count = racy.make_parallel_count(SafeCounter)
