"""Gradescope's results.json: one per student from the store (`gradescope`), and the one the
Gradescope autograder writes for a submission (`autograder_results`, `platform_error_results`).

Our own results.json is a superset of Gradescope's format (`grader.results`). Gradescope has
no "not graded" state: a submission it cannot score still gets a number. So a result that is
not a grade (the platform failed, or the tests need a GPU Gradescope does not have) is written
with score 0 and an output that says, first, that this 0 is not a grade and what to do.
"""

from __future__ import annotations

import json
from pathlib import Path

from grader.states import NEEDS_GPU, NOT_GRADED_YET

NOT_A_GRADE = (
    "NOT GRADED: this 0 is not a grade (Gradescope cannot record a submission without a score)."
)
GRADER_FAILED = (
    "The grader failed on this submission, not your code. Your instructor sees "
    "this and will run the autograder again on it (Gradescope: Rerun Autograder)."
)


def gradescope(current, out: Path, why: dict[str, str] | None = None) -> str:
    """A results.json per graded student; those not graded (say, a GPU exercise graded where
    there is no GPU) get none, and are named in the message, never given a number."""
    written, skipped = 0, []
    for c in current:
        if c.grading is None:
            skipped.append(f"{c.student} ({(why or {}).get(c.student) or 'no grading recorded'})")
            continue
        folder = out / c.student
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "results.json").write_text(json.dumps(c.grading.results, indent=1))
        written += 1
    left = f"; not graded, so not written: {', '.join(skipped)}" if skipped else ""
    return f"{written} results.json file(s) under {out}{left}"


TOP_KEYS = ("score", "execution_time", "output", "visibility", "stdout_visibility", "tests")
TEST_KEYS = ("name", "number", "score", "max_score", "status", "output", "tags", "visibility")


def autograder_results(result, hidden_visibility: str = "visible") -> dict:
    """Gradescope's results.json for one `SubmissionResult`: per-test scores and our feedback
    text (each test's `output`), the submission's summary as `output`; only the keys of
    Gradescope's format, the rest of our results.json under `extra_data`."""
    ours = result.to_json(hidden_visibility)
    tests = [
        {
            **{k: t[k] for k in TEST_KEYS},
            "extra_data": {k: v for k, v in t.items() if k not in TEST_KEYS},
        }
        for t in ours["tests"]
    ]
    data = {
        **{k: ours[k] for k in TOP_KEYS},
        "tests": tests,
        "output_format": "text",
        "test_output_format": "text",
        "extra_data": {"max_score": ours["max_score"], "pgrader": ours["pgrader"]},
    }
    if result.not_graded == NEEDS_GPU:
        data["score"] = 0.0
        data["output"] = (
            f"{NOT_A_GRADE} {NOT_GRADED_YET}: {NEEDS_GPU}. This exercise's "
            "tests run kernels on a GPU and Gradescope's machines have none, so "
            "your kernels did not run (a score would be the same for correct and "
            "wrong ones). Your instructor grades this exercise with pgrader on a "
            f"machine that has a GPU.\n\n{result.summary()}"
        )
    elif result.platform_failed:  # some tests could not run because of the grader
        data["score"] = 0.0
        data["output"] = f"{NOT_A_GRADE} {GRADER_FAILED}\n\n{result.summary()}"
    return data


def platform_error_results(message: str, max_score: float, execution_time: float = 0.0) -> dict:
    """Gradescope's results.json when the grader itself failed: no test ran, and the student
    is told it is not their code's fault and that the instructor will grade it again."""
    text = f"{NOT_A_GRADE} {GRADER_FAILED}\n\nWhat failed: {message}"
    return {
        "score": 0.0,
        "execution_time": round(execution_time, 3),
        "output": text,
        "output_format": "text",
        "visibility": "visible",
        "stdout_visibility": "hidden",
        "tests": [
            {
                "name": "The grader ran (not your code: the grader itself failed)",
                "score": 0.0,
                "max_score": 0.0,
                "status": "failed",
                "output": message,
                "visibility": "visible",
            }
        ],
        "extra_data": {
            "max_score": max_score,
            "pgrader": {"not_graded": "platform error", "error": message},
        },
    }
