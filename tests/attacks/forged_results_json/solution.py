"""Attack: forge result files. The racy counter (honestly 6/10), which at every import writes a
full-marks results.json (Gradescope's format) and fake per-test result files everywhere a
grader might look: the work directory and its parents, the output folder next to it, /work,
/tmp and Gradescope's /autograder/results."""

import json
import os
import threading

FULL_MARKS = {"score": 10.0, "max_score": 10.0, "output": "All tests passed",
              "tests": [{"name": "everything", "score": 10.0, "max_score": 10.0, "status": "passed"}]}
FAKE_RESULT = {"rank": 0, "status": "ok", "value": 16000,
               "checks": {"lockset": {"intact": True, "writes": 1, "races": []},
                          "preempt": {"intact": True, "switches": 1000, "seed": 0, "probability": 0.05,
                                      "events": 1}}}
_OUT = os.path.join(os.path.dirname(os.getcwd()), "out")
for _path, _data in [
        ("results.json", FULL_MARKS), ("../results.json", FULL_MARKS), ("../../results.json", FULL_MARKS),
        ("/work/results.json", FULL_MARKS), ("/tmp/results.json", FULL_MARKS),
        ("/autograder/results/results.json", FULL_MARKS), (os.path.join(_OUT, "results.json"), FULL_MARKS),
        (os.path.join(_OUT, "report.json"), {"tests": []}),
        (os.path.join(_OUT, "result-0.json"), FAKE_RESULT), (os.path.join(_OUT, "result-1.json"), FAKE_RESULT),
        ("result-0.json", FAKE_RESULT)]:
    try:
        os.makedirs(os.path.dirname(os.path.abspath(_path)), exist_ok=True)
        with open(_path, "w") as _f:
            json.dump(_data, _f)
    except OSError:
        pass


class SafeCounter:
    def __init__(self):
        self._lock = threading.Lock()
        self._value = 0

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
