"""Attack: a finding deep enough to crash the judge. The racy counter (honestly 6/10). When the
4-thread increment(3)/decrement(1) mix first runs (test_mixed_increment_decrement, before the
race tests), it writes OUT/findings-<pid>.jsonl with a 'self-deadlock' finding whose lock is a
list nested 900 deep, then hangs: the hang is explained from the findings, and the judge's
own recursion over the finding's data blew up -- pytest's INTERNALERROR ended the run, the race
tests were never run, and the score was renormalised over the tests that had passed: 10/10."""

import os
import threading
import time

import racy

_OUT = os.path.join(os.path.dirname(os.getcwd()), "out")
_fired = []


def _finding():
    deep = "lock"
    for _ in range(900):
        deep = [deep]
    return '{"kind": "self-deadlock", "lock": ' + repr(deep).replace("'", '"') + ', "thread": "T"}'


class SafeCounter(racy.SafeCounter):
    def increment(self, k=1):
        if k == 3 and not _fired:
            _fired.append(1)
            try:
                with open(os.path.join(_OUT, f"findings-{os.getpid()}.jsonl"), "w") as f:
                    f.write(_finding() + "\n")
            except OSError as exc:
                raise RuntimeError(f"could not forge a finding: {exc}") from None
            time.sleep(3600)
        super().increment(k)


parallel_count = racy.make_parallel_count(SafeCounter)
