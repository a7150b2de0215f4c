"""One vocabulary for what became of a submission: the portal, the CLI, the exports and the
docs all use these words, with these meanings.

- *graded*: the tests ran and the score stands (under the course's rule for which attempt
  counts).
- *refused*: what was handed in could not be graded (not a text file, a syntax error, a
  missing file, an unsafe archive...). It scores 0 (counted only while no attempt is graded),
  and the student is told why and what to do.
- *not graded yet*: the platform failed (the sandbox, the grader, the Docker engine), never
  the student: no score at all, nothing counted against anyone, and it is graded again.
  An exercise whose tests run on a GPU, graded where there is none, is *not graded yet* for
  the reason NEEDS_GPU: never a number (its kernels did not run, so a score would be the same
  for correct and wrong code); a machine with a GPU (a worker of the gpu queue) grades it.
- *queued*, *running*: on its way to one of the above.
"""

from __future__ import annotations

QUEUED, RUNNING = "queued", "running"
GRADED, REFUSED, NOT_GRADED_YET = "graded", "refused", "not graded yet"
NEEDS_GPU = "needs a GPU"  # why not graded yet: the tests need a GPU this machine lacks

# What each final state means for the student, in the words every page uses.
MEANING = {
    GRADED: "The tests ran on this attempt.",
    REFUSED: "This attempt could not be graded because of what was handed in: it scores 0, "
    "and does not replace an attempt that was graded. Fix what the message says and "
    "hand in again.",
    NOT_GRADED_YET: "The grader failed on this attempt, not your code: it has no score yet and "
    "counts against nothing. It is graded again automatically.",
}
NEEDS_GPU_MEANING = (
    "This exercise's tests run kernels on a GPU and the machine that graded "
    "this attempt has none, so it has no score (a score would be the same for "
    "correct and wrong kernels) and counts against nothing. A machine with a "
    "GPU will grade it."
)


def retry_note(problem: str = "") -> str:
    """How the CLI and the gradebook say *not graded yet*, with the platform's reason."""
    problem = problem.removeprefix("retryable, ")
    if problem == NEEDS_GPU:  # graded again on a machine with a GPU, not here
        return f"{NOT_GRADED_YET}: {NEEDS_GPU}"
    return f"{NOT_GRADED_YET} (retryable)" + (f": {problem}" if problem else "")
