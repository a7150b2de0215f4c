"""`grader validate`: proves an exercise's tests right before students meet them.

For each exercise: the reference solution scores full marks; the skeleton
scores 0 on the hidden tests; every mutant fails the tests its `mutant.toml`
names, with the verdicts it names, and scores at most its `max_score`. Tests
that report `not-run` (e.g. no GPU here) are listed as such, never as passes.
"""

from __future__ import annotations

import tomllib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from grader.course import Course, Exercise
from grader.errors import ConfigError
from grader.grade import GradingFailed, grade_submission, new_seed
from grader.results import SubmissionResult


@dataclass
class Variant:
    exercise: Exercise
    name: str  # reference, skeleton, or mutant:<name>
    path: Path
    must_fail: list[str] = field(default_factory=list)
    verdicts: dict[str, str] = field(default_factory=dict)
    max_score: float | None = None
    description: str = ""


@dataclass
class Check:
    variant: Variant
    result: SubmissionResult | None
    problems: list[str]
    not_run: list[str]

    @property
    def ok(self) -> bool:
        return not self.problems


def variants(course: Course, exercise: Exercise) -> list[Variant]:
    solutions = exercise.solution_dir(course.root)
    out = [Variant(exercise, "reference", solutions), Variant(exercise, "skeleton", exercise.skeleton)]
    mutants = solutions / "mutants"
    for folder in sorted(p for p in mutants.iterdir() if p.is_dir()) if mutants.is_dir() else []:
        spec_path = folder / "mutant.toml"
        try:
            spec = tomllib.loads(spec_path.read_text())
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(spec_path, "-", f"a readable mutant.toml ({exc})") from None
        if not isinstance(spec.get("must_fail"), list) or not spec["must_fail"]:
            raise ConfigError(spec_path, "must_fail", "a non-empty array of test names")
        if not isinstance(spec.get("max_score"), (int, float)):
            raise ConfigError(spec_path, "max_score", "a number")
        out.append(Variant(exercise, f"mutant:{folder.name}", folder, list(spec["must_fail"]),
                           dict(spec.get("verdicts", {})), float(spec["max_score"]),
                           str(spec.get("description", ""))))
    return out


def judge(variant: Variant, result: SubmissionResult) -> Check:
    problems: list[str] = []
    by_name = {t.function: t for t in result.tests}
    not_run = [t.function for t in result.tests if t.verdict == "not-run"]
    errors = [f"{t.function}: grader error: {t.message}" for t in result.tests
              if t.verdict == "grader-error"]
    problems += errors
    if result.error:
        problems.append(f"submission refused: {result.error}")
    elif variant.name == "reference":
        for t in result.tests:
            if t.verdict not in ("passed", "not-run", "grader-error"):
                problems.append(f"{t.function}: {t.verdict}: {t.message[:300]}")
    elif variant.name == "skeleton":
        for t in result.tests:
            if t.suite == "hidden" and t.verdict == "passed":
                problems.append(f"{t.function}: the skeleton passes this hidden test")
    else:
        for name in variant.must_fail:
            t = by_name.get(name)
            if t is None:
                problems.append(f"{name}: no such test")
            elif t.verdict == "passed":
                problems.append(f"{name}: passed, but this mutant must fail it")
            elif name in variant.verdicts and t.verdict != variant.verdicts[name]:
                if t.verdict != "not-run":
                    problems.append(f"{name}: verdict {t.verdict}, expected {variant.verdicts[name]}"
                                    f" ({t.message[:200]})")
        if variant.max_score is not None and result.score > variant.max_score + 1e-9:
            problems.append(f"scores {result.score:g}, more than its maximum {variant.max_score:g}")
    return Check(variant, result, problems, not_run)


def validate(course: Course, exercises: list[Exercise], backend: str, *, seed: int | None = None,
             jobs: int = 2, sandbox_info: dict | None = None,
             only: tuple[str, ...] = ()) -> list[Check]:
    """Grade every variant (or those named in `only`: "reference", "skeleton", "mutant:NAME",
    or "mutants" for all mutants) and judge each against what it must score."""
    seed = new_seed() if seed is None else seed
    todo = [v for ex in exercises for v in variants(course, ex) if not only or v.name in only
            or ("mutants" in only and v.name.startswith("mutant:"))]

    def run(variant: Variant) -> Check:
        try:
            result = grade_submission(course, variant.exercise, variant.path, student=variant.name,
                                      backend=backend, seed=seed, sandbox_info=sandbox_info)
        except GradingFailed as exc:
            return Check(variant, None, [f"could not be graded: {exc}"], [])
        return judge(variant, result)

    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        return list(pool.map(run, todo))


def _not_run_status(c: Check) -> str:
    """'not run: no GPU' when tests needed a GPU this machine lacks (a mutant whose every named
    test is among them is not proven either way); otherwise the tests that did not run."""
    r = c.result
    no_gpu = [t.function for t in r.tests if t.verdict == "not-run" and "no GPU" in t.message]
    if no_gpu:
        proven = [n for n in c.variant.must_fail if n not in no_gpu]
        if c.variant.name.startswith("mutant:") and proven:
            return f"ok ({', '.join(proven)}); not run: no GPU ({len(no_gpu)} tests)"
        return f"not run: no GPU ({len(no_gpu)} tests)"
    if c.variant.name == "reference":
        return f"not run: {', '.join(c.not_run)}"
    return "ok"


def format_table(checks: list[Check]) -> str:
    rows = [("exercise", "variant", "score", "time", "result")]
    for c in checks:
        r = c.result
        score = f"{r.score:g}/{r.max_score:g}" if r else "-"
        took = f"{r.execution_time:.1f}s" if r else "-"
        status = "ok" if c.ok else "FAIL"
        if c.ok and c.not_run:
            status = _not_run_status(c)
        rows.append((c.variant.exercise.slug, c.variant.name, score, took, status))
    widths = [max(len(row[i]) for row in rows) for i in range(5)]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)) for row in rows]
    for c in checks:
        for p in c.problems:
            lines.append(f"  {c.variant.exercise.slug} {c.variant.name}: {p}")
    return "\n".join(lines)
