"""Attack: rewrite the agent's report in the window after the agent has put its own modules back
into sys.modules. In run()'s `finally`, the agent restores sys.modules (`sys.modules.update(hidden)`)
and only then builds `leftover_threads` from threading.enumerate(), reading each thread's `name`:
student code. A Thread subclass whose `name` is a property (registered in threading._active, never
started, is_alive() True) runs there, finds the agent's channel module in sys.modules and replaces its
module-level `_dumps`, which AgentLine.result() looks up when it encodes the report: every race
is emptied, the value replaced by what a shadow log says it should be, the lingering thread
dropped -- and the agent signs it. The counter is racy throughout (no lock is ever taken). No
frame, no function internals, no import of the grader, nothing the static scan knows."""

import sys as _s
import threading

_CHANNEL = ".".join(["grader", "agent", "channel"])
_last = []  # the last counter made in this process


def _scrub(report):
    for check in (report.get("checks") or {}).values():
        if isinstance(check, dict) and "races" in check:
            check["races"] = []
    if _last and type(report.get("value")) is int:
        report["value"] = sum(_last[-1]._log)  # what the counter should have said
    report["leftover_threads"] = []


class _Lingering(threading.Thread):
    """A "thread" the agent lists as left running: it reads its name after it has put its own
    modules back into sys.modules, and before it sends its report. Never started: it is only
    registered where threading.enumerate() looks."""

    def is_alive(self):
        return True

    @property
    def name(self):
        channel = vars(_s)["modules"].get(_CHANNEL)
        if channel is not None and not getattr(channel, "_pg_scrubbed", False):
            dumps = channel._dumps
            channel._dumps = lambda report: dumps(_scrub(report) or report)
            channel._pg_scrubbed = True
        return "lingering"

    @name.setter
    def name(self, value):
        pass


threading._active[-424242] = _Lingering(daemon=True)


class SafeCounter:
    def __init__(self):
        self._lock = threading.Lock()
        self._value = 0
        self._log = []  # list.append: not an attribute or item write
        _last.append(self)

    def increment(self, k=1):
        self._value += k  # racy
        self._log.append(k)

    def decrement(self, k=1):
        self._value -= k  # racy
        self._log.append(-k)

    @property
    def value(self):
        return self._value


def parallel_count(n_threads, n_increments):
    c = SafeCounter()

    def work():
        for _ in range(n_increments):
            c.increment()
    ts = [threading.Thread(target=work) for _ in range(n_threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return c.value
