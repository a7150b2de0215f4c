"""`grader release`: the student bundle holds the statement, skeleton and public tests only,
and `grader check` works inside it without the course."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from grader.course import Limits, load_exercise

ROOT = Path(__file__).resolve().parents[1]
GRADER = str(ROOT / ".venv" / "bin" / "grader")
SLUG = "locked_counter"
EXERCISE = ROOT / "exercises" / SLUG
SOLUTIONS = ROOT / "solutions" / SLUG
HIDDEN = EXERCISE / "tests" / "hidden"


def _files(folder: Path) -> dict[str, Path]:
    return {p.relative_to(folder).as_posix(): p for p in sorted(folder.rglob("*"))
            if p.is_file() and "__pycache__" not in p.parts}


@pytest.fixture(scope="module")
def bundle(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("release")
    proc = subprocess.run([GRADER, "release", SLUG, "--out", str(out)], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    target = out / SLUG
    assert str(target) in proc.stdout
    return target


def test_bundle_has_statement_skeleton_public_tests_and_toml(bundle):
    files = _files(bundle)
    assert "README.md" in files and "solution.py" in files and "exercise.toml" in files
    assert files["README.md"].read_bytes() == (EXERCISE / "README.md").read_bytes()
    assert files["solution.py"].read_bytes() == (EXERCISE / "skeleton" / "solution.py").read_bytes()
    public = _files(EXERCISE / "tests" / "public")
    assert public
    for rel, path in public.items():
        assert files[f"tests/public/{rel}"].read_bytes() == path.read_bytes()
    exercise = load_exercise(bundle, Limits())  # the stripped toml still loads
    assert exercise.files == ("solution.py",) and exercise.topic == "threads"
    assert exercise.limits.wall_seconds == 15  # the exercise's own limit travels
    assert exercise.weights == {}


def test_bundle_has_no_hidden_tests_and_no_solutions(bundle):
    files = _files(bundle)
    assert not any("hidden" in rel.lower() for rel in files)
    assert not any(rel.startswith(("solutions/", "mutants/")) or "mutant" in rel for rel in files)
    contents = {rel: p.read_bytes() for rel, p in files.items()}
    secret = [*_files(HIDDEN).values(), *_files(SOLUTIONS).values()]
    assert secret
    for path in secret:
        data = path.read_bytes()
        for rel, text in contents.items():
            assert data not in text, f"{rel} holds a copy of {path.relative_to(ROOT)}"


def test_bundle_never_names_a_hidden_test(bundle):
    names = set()
    for path in HIDDEN.glob("*.py"):
        names |= set(re.findall(r"^\s*def (test_\w+)", path.read_text(), re.M))
    assert len(names) >= 3
    for rel, path in _files(bundle).items():
        text = path.read_text(errors="replace")
        leaked = [n for n in names if n in text]
        assert not leaked, f"{rel} names hidden tests {leaked}"


def test_bundle_does_not_hold_the_reference_solution(bundle):
    reference = (SOLUTIONS / "solution.py").read_text()
    body = [line.strip() for line in reference.splitlines()
            if line.strip() and not line.lstrip().startswith(("#", '"""', "import", "def ", "class ",
                                                              "@", "with ", "return"))]
    for rel, path in _files(bundle).items():
        text = path.read_text(errors="replace")
        assert reference not in text
        assert reference.split('"""', 2)[-1].strip() not in text, rel
    # distinctive statements of the reference do not appear in the skeleton
    skeleton = (bundle / "solution.py").read_text()
    assert not [line for line in body if line in skeleton]


def test_release_twice_replaces_the_bundle(tmp_path):
    for _ in range(2):
        proc = subprocess.run([GRADER, "release", SLUG, "--out", str(tmp_path)], cwd=ROOT,
                              capture_output=True, text=True, timeout=60)
        assert proc.returncode == 0, proc.stderr
        (tmp_path / SLUG / "stray.txt").write_text("left over")
    proc = subprocess.run([GRADER, "release", SLUG, "--out", str(tmp_path)], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)
    assert not (tmp_path / SLUG / "stray.txt").exists()


@pytest.fixture
def bundle_copy(bundle, tmp_path) -> Path:
    copy = tmp_path / SLUG
    shutil.copytree(bundle, copy)
    assert not any((parent / "course.toml").exists() for parent in [copy, *copy.parents])
    return copy


def test_check_inside_the_bundle_passes_the_reference(bundle_copy):
    shutil.copy(SOLUTIONS / "solution.py", bundle_copy / "solution.py")
    proc = subprocess.run([GRADER, "check", SLUG], cwd=bundle_copy, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "2 of 2 tests passed" in proc.stdout
    assert "Traceback" not in proc.stdout + proc.stderr


def test_check_inside_the_bundle_fails_the_skeleton(bundle_copy):
    proc = subprocess.run([GRADER, "check", SLUG], cwd=bundle_copy, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode != 0
    assert "0 of 2 tests passed" in proc.stdout
    assert "Traceback" not in proc.stdout + proc.stderr


def test_bundle_toml_round_trips_any_title(tmp_path):
    from grader.release import release

    src = tmp_path / "exercises" / SLUG
    shutil.copytree(EXERCISE, src, ignore=shutil.ignore_patterns("__pycache__"))
    title = 'Alice\'s "safe" counter \\ été 🧵'
    toml = (src / "exercise.toml").read_text()
    toml = re.sub(r"^title = .*$", lambda m: "title = " + _toml_string(title), toml, flags=re.M)
    toml = toml.replace("[limits]", "[runtime]\nmpi = { ranks = [1, 2] }\n\n[limits]")
    (src / "exercise.toml").write_text(toml, encoding="utf-8")
    original = load_exercise(src, Limits())
    assert original.title == title
    target = release(original, tmp_path / "out")
    released = load_exercise(target, Limits())
    assert released.title == title
    assert (released.topic, released.points, released.files, released.module) == (
        original.topic, original.points, original.files, original.module)
    assert released.runtime == original.runtime and released.limits == original.limits


def _toml_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
