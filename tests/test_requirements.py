"""Requirements as data (grader.requirements), checked statically for every exercise: each
requirement is a sentence of the README, has a test and a mutant that name it; each test and
mutant names a known requirement; the specification's sentences with "must", "at most",
"while", "in order" or "without" are requirements. Whether each mutant really proves its
requirement is `grader validate`'s job (tests/test_exercises.py)."""

from __future__ import annotations

import textwrap

import pytest

from conftest import ROOT
from grader.course import load_course, load_exercise
from grader.errors import ConfigError
from grader.requirements import (
    declared_tests,
    mutant_specs,
    spec_sentences,
    static_coverage,
    uncovered_spec_sentences,
)
from grader.validate import Check, Variant, coverage, format_coverage

COURSE = load_course(ROOT)


@pytest.mark.parametrize("slug", sorted(COURSE.exercises))
def test_every_requirement_has_a_test_and_a_mutant(slug):
    ex = COURSE.exercise(slug)
    solutions = ex.solution_dir(COURSE.root)
    rows, problems = static_coverage(ex, mutant_specs(solutions))
    assert not problems, "\n".join(problems)
    assert rows


@pytest.mark.parametrize("slug", sorted(COURSE.exercises))
def test_spec_sentences_with_requirement_words_are_requirements(slug):
    missing = uncovered_spec_sentences(COURSE.exercise(slug))
    assert not missing, "README sentences that are no requirement:\n" + "\n".join(missing)


def _exercise(tmp_path, toml_extra: str, readme: str, tests: str):
    root = tmp_path / "exercises" / "demo"
    (root / "tests" / "hidden").mkdir(parents=True, exist_ok=True)
    (root / "tests" / "public").mkdir(parents=True, exist_ok=True)
    (root / "exercise.toml").write_text('title = "Demo"\ntopic = "threads"\n' + toml_extra)
    (root / "README.md").write_text(readme)
    (root / "tests" / "hidden" / "test_hidden.py").write_text(textwrap.dedent(tests))
    return load_exercise(root, COURSE.limits)


README = """# Demo

## What to write (`solution.py`)

```python
def f(x):
    \"\"\"Return x twice. It must never block.\"\"\"
```

The result must be a list, in order.
"""

TESTS = """
from grader.testing import requirement

@requirement("twice")
def test_twice(student):
    pass

@requirement("list", "never-block")
def test_list(student):
    pass

def test_untagged(student):
    pass
"""


def test_static_coverage_reports_every_gap(tmp_path):
    ex = _exercise(
        tmp_path,
        '[requirements]\ntwice = "Return x twice."\n'
        'never-block = "It must never block."\nlist = "Nothing like this sentence."\n',
        README,
        TESTS,
    )
    from grader.requirements import MutantSpec

    mutants = [
        MutantSpec("m1", "twice", ["test_other"]),
        MutantSpec("m2", "", ["test_list"]),
        MutantSpec("m3", "gone", ["test_list"]),
    ]
    rows, problems = static_coverage(ex, mutants)
    assert {r.id: r.tests for r in rows} == {
        "twice": ["test_twice"],
        "never-block": ["test_list"],
        "list": ["test_list"],
    }
    text = "\n".join(problems)
    assert "test_untagged names no requirement" in text
    assert "mutant m1 must fail no test of its requirement 'twice'" in text
    assert "mutant m2 names no requirement" in text
    assert "mutant m3 names the unknown requirement 'gone'" in text
    assert "requirement 'list': its sentence is not in README.md" in text
    assert "requirement 'never-block' has no mutant" in text
    # The spec's last sentence has "must" and "in order" but no requirement says it.
    assert uncovered_spec_sentences(ex) == ["The result must be a list, in order."]


def test_spec_sentences_join_docstrings_and_drop_fences():
    sentences = spec_sentences(README)
    assert "It must never block." in sentences
    assert not any("```" in s for s in sentences)


def test_requirements_table_is_checked(tmp_path):
    with pytest.raises(ConfigError, match="requirements.Bad"):
        _exercise(tmp_path, '[requirements]\nBad = "x"\n', README, TESTS)
    with pytest.raises(ConfigError, match="requirements_waiting.other"):
        _exercise(
            tmp_path,
            '[requirements]\ntwice = "Return x twice."\n'
            '[requirements_waiting]\nother = "the lead"\n',
            README,
            TESTS,
        )


def test_declared_tests_reads_decorators_without_importing(tmp_path):
    folder = tmp_path / "t"
    folder.mkdir()
    (folder / "test_x.py").write_text("import no_such_module\n" + textwrap.dedent(TESTS))
    assert declared_tests([folder]) == {
        "test_twice": ["twice"],
        "test_list": ["list", "never-block"],
        "test_untagged": [],
    }


def test_coverage_table_needs_a_failed_test_of_the_requirement(tmp_path):
    """A mutant proves its requirement only when one of its must-fail tests of that requirement
    failed; a test that did not run for want of a GPU leaves it unproven, allowed only for an
    exercise that declares a GPU."""
    from dataclasses import replace

    from grader.results import SubmissionResult, TestResult

    ex = _exercise(
        tmp_path,
        '[requirements]\ntwice = "Return x twice."\n'
        'never-block = "It must never block."\n'
        'list = "The result must be a list, in order."\n',
        README,
        TESTS.replace("def test_untagged(student):\n    pass\n", ""),
    )
    mutants = tmp_path / "solutions" / "demo" / "mutants"
    for name, req, tests in (
        ("m1", "twice", "test_twice"),
        ("m2", "never-block", "test_list"),
        ("m3", "list", "test_list"),
    ):
        (mutants / name).mkdir(parents=True)
        (mutants / name / "mutant.toml").write_text(
            f'requirement = "{req}"\nmust_fail = ["{tests}"]\nmax_score = 10\n'
        )
    course = replace(COURSE, root=tmp_path, exercises={"demo": ex})

    def check(name, verdicts, exercise=ex):
        tests = [
            TestResult(n, n, "hidden", v, 0.0, 1.0, message=m) for n, (v, m) in verdicts.items()
        ]
        variant = Variant(
            exercise,
            f"mutant:{name}",
            mutants / name,
            must_fail=[next(iter(verdicts))],
            requirement={"m1": "twice", "m2": "never-block"}.get(name, "list"),
        )
        return Check(variant, SubmissionResult("x", "demo", tests, 10.0), [], [])

    checks = [
        check("m1", {"test_twice": ("failed", "")}),
        check("m2", {"test_list": ("not-run", "not run: no GPU on this grading machine")}),
        check("m3", {"test_list": ("failed", "")}),
    ]
    proofs, problems = coverage(course, [ex], checks)
    assert not problems
    assert [(p.row.id, p.status) for p in proofs] == [
        ("twice", "proven"),
        ("never-block", "FAIL"),
        ("list", "proven"),
    ]
    gpu = replace(ex, runtime=replace(ex.runtime, gpu=True))
    proofs, _ = coverage(
        replace(course, exercises={"demo": gpu}),
        [gpu],
        [
            check("m1", {"test_twice": ("failed", "")}, gpu),
            check("m2", {"test_list": ("not-run", "not run: no GPU here")}, gpu),
            check("m3", {"test_list": ("passed", "")}, gpu),
        ],
    )
    assert [p.status for p in proofs] == ["proven", "unproven: no GPU here", "FAIL"]
    assert "3 requirements in 1 exercise(s) (1 FAIL, 1 proven, 1 unproven)" in format_coverage(
        proofs, []
    )


def test_a_mutant_whose_must_fail_test_did_not_run_is_not_ok(tmp_path):
    """ "ok" was printed for a mutant whose must-fail test did not run (Oclgrind missing): only a
    missing GPU of an exercise that declares one is excused, as "not run: no GPU"."""
    from dataclasses import replace

    from grader.results import SubmissionResult, TestResult
    from grader.validate import check_variant

    ex = _exercise(tmp_path, '[requirements]\ntwice = "Return x twice."\n', README, TESTS)
    variant = Variant(
        ex, "mutant:m", tmp_path, must_fail=["test_twice"], max_score=10, requirement="twice"
    )

    def result(message):
        return SubmissionResult(
            "m",
            "demo",
            [TestResult("t", "test_twice", "hidden", "not-run", 0.0, 1.0, message=message)],
            10.0,
        )

    check = check_variant(variant, result("not run: oclgrind is not installed"))
    assert not check.ok and "did not run (not run: oclgrind" in check.problems[0]
    gpu = replace(variant, exercise=replace(ex, runtime=replace(ex.runtime, gpu=True)))
    assert check_variant(gpu, result("not run: no GPU on this grading machine")).ok
