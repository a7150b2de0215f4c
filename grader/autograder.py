"""Grading one submission inside Gradescope's container: what the exported autograder's
`run_autograder` runs (`python -m grader.autograder SLUG`; the zip is made by
`grader.export.autograder`).

Gradescope unpacks the zip into /autograder/source (our course folder is source/course), puts
the student's files into /autograder/submission and reads /autograder/results/results.json.
The submission is graded with the hidden and public tests on the local backend (Gradescope's
container is the sandbox), exactly as `grader grade --backend local` grades it, except for
lateness, which Gradescope's own late policy handles. A submission the student broke (missing
or misnamed file, syntax error, a module that does not import) is graded and explained as
`grader grade` explains it; a failure of the grader itself is written as a result that says so
(see `grader.export.gradescope`), and the exit status is 1. Nothing here uses the network.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import traceback
from pathlib import Path

METADATA_MAX = 1_000_000  # bytes of Gradescope's submission_metadata.json read


def student_name(root: Path) -> str:
    """The submitter's e-mail from Gradescope's submission_metadata.json, else "submission"."""
    try:
        with (root / "submission_metadata.json").open("rb") as f:
            users = json.loads(f.read(METADATA_MAX)).get("users") or []
        return str(users[0].get("email") or users[0].get("name") or "submission")[:200]
    except (OSError, ValueError, AttributeError, IndexError, TypeError):
        return "submission"


def write_results(root: Path, data: dict) -> Path:
    out = root / "results" / "results.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    part = out.with_name("results.json.part")
    part.write_text(json.dumps(data, indent=1))
    part.replace(out)
    return out


def grade(root: Path, slug: str) -> int:
    from grader.cli import _print_result
    from grader.course import load_course
    from grader.export.gradescope import autograder_results, platform_error_results
    from grader.grade import grade_submission
    from grader.sandbox.local import LocalBackend

    t0 = time.monotonic()
    max_score = 0.0
    try:
        course = load_course(root / "source" / "course")
        exercise = course.exercise(slug)
        max_score = exercise.points
        submission = root / "submission"
        if not submission.is_dir():
            raise FileNotFoundError(
                f"{submission} is missing: Gradescope puts the student's files there"
            )
        info = {**LocalBackend().describe(), "platform": "gradescope"}
        print(
            f"pgrader: grading {slug} ({exercise.title}) on the local backend "
            f"({info['isolation']}, Python {info['python']})",
            flush=True,
        )
        result = grade_submission(
            course,
            exercise,
            submission,
            student=student_name(root),
            backend="local",
            sandbox_info=info,
        )
    except Exception as exc:  # noqa: BLE001 - the grader's own failure, whatever it is
        traceback.print_exc(file=sys.stdout)
        message = str(exc) or type(exc).__name__
        out = write_results(root, platform_error_results(message, max_score, time.monotonic() - t0))
        print(
            f"pgrader: NOT GRADED: the grader itself failed: {message}\n"
            f"Wrote {out} with score 0 and that message: rerun the autograder once fixed."
        )
        return 1
    data = autograder_results(result, exercise.hidden_visibility)
    if result.error:  # refused: say what Gradescope must be given
        data["output"] += (
            f"\n\nThis assignment expects {', '.join(exercise.files)}: upload "
            "it under exactly that name (the files, or a zip of them), then "
            "submit again."
        )
    out = write_results(root, data)
    _print_result(result)
    print(
        f"Seed {result.seed}: `grader grade {slug} SUBMISSION --seed {result.seed}` replays "
        f"this run.\nWrote {out}"
    )
    return 0 if result.graded else 1


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m grader.autograder", description=__doc__)
    p.add_argument("slug")
    p.add_argument(
        "--root", default="/autograder", help="Gradescope's folder (default /autograder)"
    )
    args = p.parse_args(argv)
    return grade(Path(args.root), args.slug)


if __name__ == "__main__":
    sys.exit(main())
