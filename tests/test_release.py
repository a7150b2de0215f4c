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
    return {
        p.relative_to(folder).as_posix(): p
        for p in sorted(folder.rglob("*"))
        if p.is_file() and "__pycache__" not in p.parts
    }


@pytest.fixture(scope="module")
def bundle(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("release")
    proc = subprocess.run(
        [GRADER, "release", SLUG, "--out", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
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
    body = [
        line.strip()
        for line in reference.splitlines()
        if line.strip()
        and not line.lstrip().startswith(
            ("#", '"""', "import", "def ", "class ", "@", "with ", "return")
        )
    ]
    for rel, path in _files(bundle).items():
        text = path.read_text(errors="replace")
        assert reference not in text
        assert reference.split('"""', 2)[-1].strip() not in text, rel
    # distinctive statements of the reference do not appear in the skeleton
    skeleton = (bundle / "solution.py").read_text()
    assert not [line for line in body if line in skeleton]


def test_release_twice_replaces_the_bundle(tmp_path):
    for _ in range(2):
        proc = subprocess.run(
            [GRADER, "release", SLUG, "--out", str(tmp_path)],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert proc.returncode == 0, proc.stderr
        (tmp_path / SLUG / "stray.txt").write_text("left over")
    proc = subprocess.run(
        [GRADER, "release", SLUG, "--out", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert not (tmp_path / SLUG / "stray.txt").exists()


@pytest.fixture
def bundle_copy(bundle, tmp_path) -> Path:
    copy = tmp_path / SLUG
    shutil.copytree(bundle, copy)
    assert not any((parent / "course.toml").exists() for parent in [copy, *copy.parents])
    return copy


def test_check_inside_the_bundle_passes_the_reference(bundle_copy):
    shutil.copy(SOLUTIONS / "solution.py", bundle_copy / "solution.py")
    proc = subprocess.run(
        [GRADER, "check", SLUG], cwd=bundle_copy, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "2 of 2 tests passed" in proc.stdout
    assert "Traceback" not in proc.stdout + proc.stderr


def test_check_inside_the_bundle_fails_the_skeleton(bundle_copy):
    proc = subprocess.run(
        [GRADER, "check", SLUG], cwd=bundle_copy, capture_output=True, text=True, timeout=120
    )
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
        original.topic,
        original.points,
        original.files,
        original.module,
    )
    assert released.runtime == original.runtime and released.limits == original.limits


def _toml_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def offline(argv: list[str]) -> list[str]:
    """`argv` without a network where this machine allows it (a new network namespace)."""
    import os

    if (
        os.geteuid() == 0
        and shutil.which("unshare")
        and subprocess.run(["unshare", "-n", "true"], capture_output=True).returncode == 0
    ):
        return ["unshare", "-n", *argv]
    return argv


@pytest.fixture(scope="module")
def installed(bundle, tmp_path_factory) -> tuple[Path, Path]:
    """The bundle copied away from the course, and a fresh venv with its checker."""
    folder = tmp_path_factory.mktemp("student") / SLUG
    shutil.copytree(bundle, folder)
    return folder, install_checker(folder, folder.parent / "venv")


def install_checker(bundle: Path, venv: Path) -> Path:
    """A fresh venv at `venv` with the checker installed from `bundle`'s wheels only, as its
    CHECKING.md says: no index, no pip configuration, no network."""
    import os
    import sys

    env = {**os.environ, "PIP_CONFIG_FILE": os.devnull, "PIP_NO_INDEX": "1"}
    env.pop("PIP_FIND_LINKS", None)
    subprocess.run(
        [getattr(sys, "_base_executable", sys.executable), "-m", "venv", str(venv)],
        check=True,
        timeout=120,
    )
    wheels = sorted(str(p) for p in (bundle / "wheels").glob("*.whl"))
    proc = subprocess.run(
        offline([str(venv / "bin" / "pip"), "install", "-q", "--no-index", "--no-deps", *wheels]),
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return venv


def test_bundle_says_how_to_install_offline_and_replay(bundle):
    text = (bundle / "CHECKING.md").read_text()
    assert ".venv/bin/pip install --no-index --no-deps wheels/*.whl" in text
    assert f"grader check {SLUG} --seed N" in text
    names = {p.name.split("-")[0].lower() for p in (bundle / "wheels").glob("*.whl")}
    assert {"pgrader", "pytest", "pluggy"} <= names
    assert "numpy" not in names and "mpich" not in names  # only what this exercise needs


def test_checker_installed_from_the_bundle_alone_replays_a_seed(installed):
    """In a fresh venv holding only the bundle's wheels, outside any course, `grader check`
    runs the public tests; a seed given back gives the same run."""
    folder, venv = installed
    shutil.copy(SOLUTIONS / "mutants" / "no_lock" / "solution.py", folder / "solution.py")
    (folder / ".venv").mkdir()  # a student's own venv in the folder is not their code
    (folder / ".venv" / "pyvenv.cfg").write_text("home = /usr\n")
    runs = []
    for seed in ("4242", "4242"):
        proc = subprocess.run(
            offline([str(venv / "bin" / "grader"), "check", SLUG, "--seed", seed]),
            cwd=folder,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert proc.returncode == 0, proc.stdout + proc.stderr
        runs.append(proc.stdout)
    assert "2 of 2 tests passed" in runs[0] and "Seed 4242:" in runs[0]
    assert runs[0] == runs[1]
    where = subprocess.run(
        [str(venv / "bin" / "python"), "-c", "import grader; print(grader.__file__)"],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=60,
    ).stdout
    assert str(venv) in where  # the wheel's grader, not this checkout's
