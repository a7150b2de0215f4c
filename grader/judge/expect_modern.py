"""Judge-side helper: old API names the books still use, turned into a verdict that names the
modern form (a static scan of the submission; nothing runs).

    def test_uses_current_api(student):
        student.run(_small_case)                 # the code must work first
        expect_current_api(student)
"""

from __future__ import annotations

from grader.judge.expect_asyncio import deprecated_feedback
from grader.judge.proxy import Student
from grader.judge.verdicts import Failed, SandboxFault


def expect_current_api(student: Student, hint: str = "") -> None:
    """Raise `Failed` listing every deprecated or removed API in the student's module (threading's
    `currentThread`, `getName`, `notifyAll`; `time.clock`; `@asyncio.coroutine`...), each with
    the modern form to use instead. Only the module the exercise names is scanned: a reference
    solution's folder also holds its mutants."""
    if student.submission is None:
        raise SandboxFault("the submission folder is not known to this test run")
    lines = deprecated_feedback(student.source_file())
    if lines:
        raise Failed(
            "Your code uses names that newer Python (or NumPy) versions deprecate or "
            "removed; the books were written before that. Use the modern forms: "
            + " ".join(lines)
            + (f" {hint}" if hint else ""),
            deprecated=lines,
        )
