"""The kinds of verdict: the exceptions a test raises to say what went wrong, in words for the
student.

Each carries a `status` (the word in results.json), a `message` (one or two
sentences a student who just read the chapter understands) and `details`
(structured evidence for the feedback page: stacks, expected/got, seeds...).
A plain `assert` failing inside a test becomes a `Failed` verdict.
"""

from __future__ import annotations

from grader.protocol import Outcome

__all__ = [
    "Verdict",
    "Failed",
    "StudentError",
    "Timeout",
    "Deadlock",
    "Race",
    "Crashed",
    "NotRun",
    "SandboxFault",
]


class Verdict(AssertionError):
    status = Outcome.FAILED

    def __init__(self, message: str, **details):
        super().__init__(message)
        self.message = message
        self.details = details


class Failed(Verdict):
    """The code ran but did the wrong thing (wrong value, wrong behaviour)."""

    status = Outcome.FAILED


class StudentError(Verdict):
    """The student's code raised an exception or could not be imported."""

    status = Outcome.ERROR


class Timeout(Verdict):
    """Still running at the time limit while using CPU: an endless loop or busy-wait."""

    status = Outcome.TIMEOUT


class Deadlock(Verdict):
    """Stuck at the time limit without using CPU, or a lock-order cycle that can deadlock."""

    status = Outcome.DEADLOCK


class Race(Verdict):
    """A data race: shared state updated without a consistent lock, or an update lost."""

    status = Outcome.RACE


class Crashed(Verdict):
    """The Python process died (killed by a signal, out of memory, exited early)."""

    status = Outcome.CRASHED


class NotRun(Verdict):
    """A check that could not run here (e.g. no GPU); awards nothing, blames nobody."""

    status = Outcome.NOT_RUN


class SandboxFault(Exception):
    """The platform failed, not the student: the test is reported as a grader error, never graded 0
    silently."""

    status = Outcome.GRADER_ERROR
