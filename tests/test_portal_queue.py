"""The portal's grading threads pick up a job as soon as it is handed over (issue 16: the
upload-to-feedback time under a deadline burst), never a poll interval later."""

from __future__ import annotations

import threading
import time

from grader.portal.jobs import POLL, Grader


class _Jobs:
    """The store's job rows, as a grading thread sees them: the first look finds none while an
    upload's job is handed over (after the look, before the thread could wait); the next finds it."""

    def __init__(self, grader: Grader):
        self.grader, self.looks = grader, 0

    def recover(self, retry_failed: bool = False) -> int:
        return 0

    def beat(self, owner: str) -> None:
        pass

    def claim(self, owner: str):
        self.looks += 1
        if self.looks == 1:
            self.grader.hand_over(1)  # the upload lands while this thread is looking
            return None
        return "job" if self.looks == 2 else None


def test_a_job_handed_over_while_a_thread_looks_is_claimed_at_once():
    grader = Grader(None, None, "local", {}, workers=1)
    grader.jobs = _Jobs(grader)
    ran = threading.Event()
    grader.run = lambda job: ran.set()
    t0 = time.monotonic()
    grader.start()
    try:
        assert ran.wait(POLL * 3), "the job was never claimed"
        waited = time.monotonic() - t0
    finally:
        grader._stopping.set()
        with grader._wake:
            grader._wake.notify_all()
    assert waited < POLL / 4, f"the job waited {waited:.2f} s for the next poll"
