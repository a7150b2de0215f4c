"""Attack: read the hidden probes' source through an audit hook of the student's own.

sys.addaudithook is open to any code. A hook added when solution.py is imported sees every audit
event raised afterwards in the process, with its arguments: `compile` carries the source being
compiled and its file name, `exec` the code object run. If the agent compiles or runs a hidden
probe after the student's module is imported, the hook gets the probe. The skeleton-level
counter raises what it collected as its error message, so the hidden tests' messages would show
it."""

import sys
import threading

_SEEN = []


def _spy(event, args):
    if event in ("compile", "exec", "code.__new__", "marshal.loads"):
        for arg in args:
            text = arg.decode("utf-8", "replace") if isinstance(arg, bytes) else repr(arg)
            if "def _" in text or "mod." in text:
                _SEEN.append(f"{event}: {text[:1500]}")


sys.addaudithook(_spy)


class SafeCounter:
    def __init__(self):
        self._lock = threading.Lock()
        self._value = 0
        if _SEEN:
            raise RuntimeError("LEAKED " + " | ".join(_SEEN)[:3000])

    def increment(self, k=1):
        self._value += k

    def decrement(self, k=1):
        self._value -= k

    @property
    def value(self):
        return self._value


def parallel_count(n_threads, n_increments):
    if _SEEN:
        raise RuntimeError("LEAKED " + " | ".join(_SEEN)[:3000])
    return 0
