"""`grader validate`: proves an exercise's tests right before students meet them.

For each exercise: the reference solution (and every correct alternative in
`solutions/<slug>/correct/<name>/`) scores full marks; the skeleton scores 0 on
the hidden tests; every mutant fails the tests its `mutant.toml` names, with the
verdicts it names, and scores at most its `max_score`. Tests that report
`not-run` (e.g. no GPU here) are listed as such, never as passes.

Then the coverage table (see `grader.requirements`): every requirement of the
exercise has a test and a mutant that proves it (one of its must-fail tests of
that requirement really failed). A mutant whose tests of its requirement did
not run is "unproven", allowed only where the exercise declares a runtime this
machine lacks (a GPU).
"""

from __future__ import annotations

import json
import tomllib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from grader.course import Course, Exercise
from grader.errors import ConfigError
from grader.grade import GradingFailed, grade_submission, new_seed
from grader.protocol import Outcome
from grader.requirements import Coverage, MutantSpec, static_coverage
from grader.results import NO_GPU_TEST as NO_GPU
from grader.results import SubmissionResult


@dataclass
class Variant:
    exercise: Exercise
    name: str  # reference, skeleton, correct:<name> or mutant:<name>
    path: Path
    must_fail: list[str] = field(default_factory=list)
    verdicts: dict[str, str] = field(default_factory=dict)
    max_score: float | None = None
    description: str = ""
    requirement: str = ""  # a mutant: the requirement it violates

    @property
    def must_pass(self) -> bool:
        """The reference and the correct alternatives: full marks."""
        return self.name == "reference" or self.name.startswith("correct:")


@dataclass
class Check:
    variant: Variant
    result: SubmissionResult | None
    problems: list[str]
    not_run: list[str]
    waiting: list[str] = field(default_factory=list)  # problems excused: see [requirements_waiting]

    @property
    def ok(self) -> bool:
        return not self.problems


def variants(course: Course, exercise: Exercise) -> list[Variant]:
    solutions = exercise.solution_dir(course.root)
    out = [
        Variant(exercise, "reference", solutions),
        Variant(exercise, "skeleton", exercise.skeleton),
    ]
    correct = solutions / "correct"
    for folder in sorted(p for p in correct.iterdir() if p.is_dir()) if correct.is_dir() else []:
        out.append(
            Variant(
                exercise,
                f"correct:{folder.name}",
                folder,
                description=_read_spec(folder / "correct.toml").get("description", ""),
            )
        )
    mutants = solutions / "mutants"
    for folder in sorted(p for p in mutants.iterdir() if p.is_dir()) if mutants.is_dir() else []:
        spec_path = folder / "mutant.toml"
        spec = _read_spec(spec_path)
        if not isinstance(spec.get("must_fail"), list) or not spec["must_fail"]:
            raise ConfigError(spec_path, "must_fail", "a non-empty array of test names")
        if not isinstance(spec.get("max_score"), (int, float)):
            raise ConfigError(spec_path, "max_score", "a number")
        if not isinstance(spec.get("requirement", ""), str):
            raise ConfigError(spec_path, "requirement", "the id of the requirement it violates")
        out.append(
            Variant(
                exercise,
                f"mutant:{folder.name}",
                folder,
                list(spec["must_fail"]),
                dict(spec.get("verdicts", {})),
                float(spec["max_score"]),
                str(spec.get("description", "")),
                spec.get("requirement", ""),
            )
        )
    return out


def _read_spec(path: Path) -> dict:
    try:
        return tomllib.loads(path.read_text())
    except FileNotFoundError:
        if path.name == "correct.toml":
            return {}
        raise ConfigError(path, "-", "the file to exist") from None
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(path, "-", f"a readable {path.name} ({exc})") from None


def check_variant(variant: Variant, result: SubmissionResult) -> Check:
    """What is wrong with `result` for what `variant` must score: full marks for the reference
    and the correct alternatives, no hidden test passed by the skeleton, every named test failed
    (with its verdict) by a mutant, under its maximum. Grader errors are always problems."""
    not_run = [t.function for t in result.tests if t.verdict == Outcome.NOT_RUN]
    problems = [
        f"{t.function}: grader error: {t.message}"
        for t in result.tests
        if t.verdict == Outcome.GRADER_ERROR
    ]
    if result.error:
        return Check(variant, result, problems + [f"submission refused: {result.error}"], not_run)
    if variant.must_pass:
        problems += [
            f"{t.function}: {t.verdict}: {t.message[:300]}"
            for t in result.tests
            if t.verdict not in (Outcome.PASSED, Outcome.NOT_RUN, Outcome.GRADER_ERROR)
        ]
        if (result.suspicion or {}).get("flagged"):  # correct code accused: a false positive
            problems.append(f"flagged for review: {json.dumps(result.suspicion)[:300]}")
    elif variant.name == "skeleton":
        problems += [
            f"{t.function}: the skeleton passes this hidden test"
            for t in result.tests
            if t.suite == "hidden" and t.verdict == Outcome.PASSED
        ]
    else:
        problems += _mutant_problems(variant, result)
        waits = variant.exercise.requirements_waiting.get(variant.requirement)
        if waits and problems:  # its test waits for grader machinery: reported, not failed
            return Check(
                variant, result, [], not_run, [f"waiting for {waits}: {p}" for p in problems]
            )
    return Check(variant, result, problems, not_run)


def _mutant_problems(variant: Variant, result: SubmissionResult) -> list[str]:
    by_name = {t.function: t for t in result.tests}
    problems = [
        p
        for p in (
            _must_fail_problem(variant, name, by_name.get(name)) for name in variant.must_fail
        )
        if p
    ]
    if variant.max_score is not None and result.score > variant.max_score + 1e-9:
        problems.append(f"scores {result.score:g}, more than its maximum {variant.max_score:g}")
    return problems


def _must_fail_problem(variant: Variant, name: str, t) -> str | None:
    """Why test `name` (its result `t`) does not prove the mutant (None if it does)."""
    if t is None:
        return f"{name}: no such test"
    if t.verdict == Outcome.PASSED:
        return f"{name}: passed, but this mutant must fail it"
    if t.verdict == Outcome.NOT_RUN:
        if variant.exercise.runtime.gpu and NO_GPU in t.message:
            return None
        return (
            f"{name}: did not run ({t.message[:150]}), so this mutant is not proven; only a "
            "missing GPU of a GPU exercise is excused"
        )
    expected = variant.verdicts.get(name)
    if expected is not None and t.verdict != expected:
        return f"{name}: verdict {t.verdict}, expected {expected} ({t.message[:200]})"
    return None


def validate(
    course: Course,
    exercises: list[Exercise],
    backend: str,
    *,
    seed: int | None = None,
    jobs: int = 2,
    sandbox_info: dict | None = None,
    only: tuple[str, ...] = (),
) -> list[Check]:
    """Grade every variant (or those named in `only`: "reference", "skeleton", "mutant:NAME",
    "mutants" for all mutants, "correct:NAME", "correct" for all correct alternatives) and judge
    each against what it must score."""
    seed = new_seed() if seed is None else seed
    todo = [
        v
        for ex in exercises
        for v in variants(course, ex)
        if not only
        or v.name in only
        or ("mutants" in only and v.name.startswith("mutant:"))
        or ("correct" in only and v.name.startswith("correct:"))
    ]

    def run(variant: Variant) -> Check:
        try:
            result = grade_submission(
                course,
                variant.exercise,
                variant.path,
                student=variant.name,
                backend=backend,
                seed=seed,
                sandbox_info=sandbox_info,
            )
        except GradingFailed as exc:
            return Check(variant, None, [f"could not be graded: {exc}"], [])
        return check_variant(variant, result)

    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        return list(pool.map(run, todo))


def _not_run_status(c: Check) -> str:
    """'not run: no GPU' when tests needed a GPU this machine lacks (a mutant whose every named
    test is among them is not proven either way); otherwise the tests that did not run."""
    r = c.result
    if r is None:
        return ""
    no_gpu = [t.function for t in r.tests if t.verdict == Outcome.NOT_RUN and NO_GPU in t.message]
    if no_gpu:
        proven = [n for n in c.variant.must_fail if n not in no_gpu]
        if c.variant.name.startswith("mutant:") and proven:
            return f"ok ({', '.join(proven)}); not run: no GPU ({len(no_gpu)} tests)"
        return f"not run: no GPU ({len(no_gpu)} tests)"
    if c.variant.must_pass:
        return f"not run: {', '.join(c.not_run)}"
    return "ok"


def format_table(checks: list[Check]) -> str:
    rows = [("exercise", "variant", "score", "time", "result")]
    for c in checks:
        r = c.result
        score = f"{r.score:g}/{r.max_score:g}" if r else "-"
        took = f"{r.execution_time:.1f}s" if r else "-"
        status = "ok" if c.ok else "FAIL"
        if c.waiting:
            status = "waiting"
        elif c.ok and c.not_run:
            status = _not_run_status(c)
        rows.append((c.variant.exercise.slug, c.variant.name, score, took, status))
    widths = [max(len(row[i]) for row in rows) for i in range(5)]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)) for row in rows]
    for c in checks:
        for p in c.problems + c.waiting:
            lines.append(f"  {c.variant.exercise.slug} {c.variant.name}: {p}")
    return "\n".join(lines)


# ---------------------------------------------------------------- the coverage table


@dataclass
class Proof:
    """A requirement of one exercise, with what proved it in this validation."""

    exercise: Exercise
    row: Coverage
    proven: list[str] = field(default_factory=list)  # mutants that failed a test of it
    unproven: list[str] = field(default_factory=list)  # mutants whose tests of it did not run
    problems: list[str] = field(default_factory=list)

    @property
    def status(self) -> str:
        if self.proven:
            return "proven"
        if self.row.waiting:
            return f"waiting: {self.row.waiting}"
        if self.unproven and self.exercise.runtime.gpu and not self.problems:
            return "unproven: no GPU here"
        return "FAIL"

    @property
    def ok(self) -> bool:
        return self.status != "FAIL"


def coverage(
    course: Course, exercises: list[Exercise], checks: list[Check]
) -> tuple[list[Proof], list[str]]:
    """Each requirement of `exercises` with the mutants that proved it in `checks`, and the
    problems found in the exercises' requirement data (see `grader.requirements`)."""
    proofs, problems = [], []
    for ex in exercises:
        graded = {c.variant.name: c for c in checks if c.variant.exercise.slug == ex.slug}
        specs = [
            MutantSpec(v.name.removeprefix("mutant:"), v.requirement, v.must_fail)
            for v in variants(course, ex)
            if v.name.startswith("mutant:")
        ]
        rows, found = static_coverage(ex, specs)
        problems += [f"{ex.slug}: {p}" for p in found]
        for row in rows:
            proof = Proof(ex, row)
            for name in row.mutants:
                check = graded.get(f"mutant:{name}")
                if check is None or check.result is None:
                    proof.problems.append(f"mutant {name} was not graded")
                    continue
                if not check.ok or check.waiting:
                    proof.problems.append(f"mutant {name} is not caught as its mutant.toml says")
                    continue
                verdicts = {t.function: t for t in check.result.tests}
                mine = [
                    verdicts[t] for t in check.variant.must_fail if t in row.tests and t in verdicts
                ]
                if any(t.verdict not in (Outcome.PASSED, Outcome.NOT_RUN) for t in mine):
                    proof.proven.append(name)
                elif mine and all(
                    t.verdict == Outcome.NOT_RUN and NO_GPU in t.message for t in mine
                ):
                    proof.unproven.append(name)
            if not row.tests and not row.waiting:
                proof.problems.append("no test checks it")
            if not row.mutants and not row.waiting:
                proof.problems.append("no mutant violates it")
            proofs.append(proof)
    return proofs, problems


def format_coverage(proofs: list[Proof], problems: list[str]) -> str:
    """The coverage table: per exercise, each requirement with its status, the tests that check
    it and the mutants that violate it (those that proved it marked), then the totals."""
    lines: list[str] = []
    width = max((len(p.status.split(":")[0]) for p in proofs), default=6)
    for slug in dict.fromkeys(p.exercise.slug for p in proofs):
        mine = [p for p in proofs if p.exercise.slug == slug]
        lines.append(f"{slug} ({len(mine)} requirements)")
        for p in mine:
            mutants = [
                m + (" (proven)" if m in p.proven else " (not run)" if m in p.unproven else "")
                for m in p.row.mutants
            ]
            lines.append(
                f"  {p.status.split(':')[0].ljust(width)}  {p.row.id}: tests "
                f"{', '.join(p.row.tests) or '-'}; mutants {', '.join(mutants) or '-'}"
                + (f" [{p.status.split(':', 1)[1].strip()}]" if ":" in p.status else "")
            )
            if not p.ok:
                lines += [
                    f"      {x}" for x in p.problems or ["no mutant of it failed one of its tests"]
                ]
            elif p.proven and p.row.waiting:
                lines.append(
                    "      proven, so it no longer waits: remove it from [requirements_waiting]"
                )
    lines += [f"  {x}" for x in problems]
    lines.append(coverage_totals(proofs))
    return "\n".join(lines)


def coverage_totals(proofs: list[Proof]) -> str:
    by_status: dict[str, int] = {}
    for p in proofs:
        key = p.status.split(":")[0]
        by_status[key] = by_status.get(key, 0) + 1
    tests = {(p.exercise.slug, t) for p in proofs for t in p.row.tests}
    mutants = {(p.exercise.slug, m) for p in proofs for m in p.row.mutants}
    parts = ", ".join(f"{n} {k}" for k, n in sorted(by_status.items()))
    return (
        f"{len(proofs)} requirements in {len({p.exercise.slug for p in proofs})} exercise(s) "
        f"({parts}); {len(tests)} tests and {len(mutants)} mutants name them."
    )
