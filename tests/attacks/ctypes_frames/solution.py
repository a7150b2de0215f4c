"""Attack: reach the frames through the C API. The racy counter (honestly 6/10). Its first
increment asks the interpreter for the current frame with ctypes (no audited attribute is
read) and blinds the checks it finds above it."""

import ctypes

import blind
import racy

_done = []


def _frame():
    api = ctypes.pythonapi
    api.PyEval_GetFrame.restype = ctypes.py_object
    try:
        ctypes.CDLL(None).prctl(4, 1, 0, 0, 0)  # PR_SET_DUMPABLE: /proc/self/mem for everyone
    except Exception:  # noqa: BLE001
        pass
    return api.PyEval_GetFrame()


class SafeCounter(racy.SafeCounter):
    def increment(self, k=1):
        if not _done:
            _done.append(1)
            blind.blind_all(blind.checks_in_frames(_frame()))
        super().increment(k)


parallel_count = racy.make_parallel_count(SafeCounter)
