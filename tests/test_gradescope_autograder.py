"""The Gradescope autograder export, run as Gradescope runs it.

`grader export SLUG --format gradescope-autograder` makes the zip; the zip is unpacked into
/autograder/source of an image built FROM the sandbox's own base image (Debian, Python 3.11:
not Gradescope's Ubuntu) with the network off, where `setup.sh` runs as root (Gradescope's
image build); then each submission runs `run_autograder` in a fresh container of that image,
still without network, its files in /autograder/submission, and results.json is read from
/autograder/results. The sample class's submissions must score what `grader grade` gives them
(the known answers of `grader demo`, with lateness undone: Gradescope applies its own).
"""

from __future__ import annotations

import ast
import json
import zipfile
from pathlib import Path

import pytest

from conftest import ROOT, require_docker
from grader.batch import received_times
from grader.cli import main
from grader.course import load_course
from grader.demo import TOLERANCE, expected_now, expected_scores, races_may_show
from grader.export.gradescope import NOT_A_GRADE, autograder_results, platform_error_results
from grader.results import SubmissionResult, late_days
from grader.results import TestResult as GradedTest
from grader.states import NEEDS_GPU

EXERCISES = ("locked_counter", "mpi_pairwise_exchange")  # threads; MPI (mpich, numpy, the shim)
SAMPLE = ROOT / "sample_class"
GRADESCOPE_TOP = {
    "score",
    "execution_time",
    "output",
    "output_format",
    "test_output_format",
    "visibility",
    "stdout_visibility",
    "extra_data",
    "tests",
}
GRADESCOPE_TEST = {
    "name",
    "number",
    "score",
    "max_score",
    "status",
    "output",
    "tags",
    "visibility",
    "extra_data",
}
DOCKERFILE = """ARG BASE
FROM ${BASE}
COPY source/ /autograder/source/
RUN mkdir -p /autograder/submission /autograder/results \\
 && cp /autograder/source/run_autograder /autograder/run_autograder \\
 && cd /autograder/source && bash ./setup.sh
WORKDIR /autograder
"""


def sample_cases() -> list[tuple[str, str, float]]:
    """(exercise, student, the score without lateness) for the sample class's submissions."""
    course = load_course(ROOT)
    cases = []
    for (slug, student), final in sorted(expected_scores(SAMPLE).items()):
        if slug not in EXERCISES:
            continue
        exercise = course.exercise(slug)
        received = received_times(SAMPLE / slug, course.zone).get(student)
        penalty = course.late_policy.penalty(late_days(received, exercise.due))
        assert penalty < 1, f"{slug}/{student}: not accepted late: its raw score is unknown"
        cases.append((slug, student, round(final / (1 - penalty), 4)))
    return cases


def export(slug: str, out: Path) -> Path:
    assert (
        main(
            [
                "--course",
                str(ROOT),
                "export",
                slug,
                "--format",
                "gradescope-autograder",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    return out


# ---------------------------------------------------------------- without Docker


def test_zip_layout(tmp_path):
    """setup.sh and run_autograder at the root, executable; the grader's wheel and the runtime's
    wheels; the exercise with its hidden tests, never a solution or a mutant."""
    z = zipfile.ZipFile(export("mpi_pairwise_exchange", tmp_path / "autograder.zip"))
    names = set(z.namelist())
    for script in ("setup.sh", "run_autograder"):
        assert (z.getinfo(script).external_attr >> 16) & 0o111, f"{script} is not executable"
    assert any(n.startswith("wheels/pgrader-") and n.endswith(".whl") for n in names)
    for dist in ("pytest", "mpi4py", "mpich", "numpy"):
        assert any(n.startswith(f"wheels/{dist}-") for n in names), dist
    ex = "course/exercises/mpi_pairwise_exchange/"
    assert {
        ex + "README.md",
        ex + "exercise.toml",
        ex + "tests/hidden/test_hidden.py",
        "course/course.toml",
        "native/mpi_strict.so",
        "requirements.txt",
    } <= names
    assert not [n for n in names if "solution" in n and "skeleton" not in n or "mutant" in n]
    assert "late_policy" not in z.read("course/course.toml").decode()  # Gradescope's own applies


def test_needs_gpu_and_platform_error_are_not_silent_zeros():
    """Gradescope has no 'not graded': the 0 it must get says first that it is not a grade."""
    result = SubmissionResult(
        "s",
        "pycuda_vector_ops",
        [
            GradedTest(
                "kernel", "test_kernel", "hidden", "not-run", 0.0, 10.0, "no GPU on this machine"
            )
        ],
        10.0,
        not_graded=NEEDS_GPU,
    )
    data = autograder_results(result)
    assert (
        data["score"] == 0
        and data["output"].startswith(NOT_A_GRADE)
        and NEEDS_GPU in data["output"]
    )
    assert set(data) <= GRADESCOPE_TOP and all(set(t) <= GRADESCOPE_TEST for t in data["tests"])
    err = platform_error_results("the test run broke", 10.0)
    assert err["score"] == 0 and err["output"].startswith(NOT_A_GRADE)
    assert "not your code" in err["output"] and "the test run broke" in err["output"]
    assert set(err) <= GRADESCOPE_TOP and all(set(t) <= GRADESCOPE_TEST for t in err["tests"])


# ---------------------------------------------------------------- in Gradescope's layout


@pytest.fixture(scope="module")
def client():
    require_docker()
    import docker

    return docker.from_env()


@pytest.fixture(scope="module")
def images(client, tmp_path_factory):
    """slug -> the autograder's image: the zip unpacked into /autograder/source and setup.sh
    run as root, as Gradescope builds it, but without network (the build fails if it needs any)."""
    from grader.sandbox.image import ensure_base

    base = ensure_base(client, log=lambda *a: None)
    built = {}
    for slug in EXERCISES:
        ctx = tmp_path_factory.mktemp(f"gradescope-{slug}")
        with zipfile.ZipFile(export(slug, ctx / "autograder.zip")) as z:
            z.extractall(ctx / "source")
        for script in ("setup.sh", "run_autograder"):  # extractall drops the modes
            (ctx / "source" / script).chmod(0o755)
        (ctx / "Dockerfile").write_text(DOCKERFILE)
        tag = f"pgrader-gradescope-test:{slug}"
        client.images.build(
            path=str(ctx),
            tag=tag,
            rm=True,
            forcerm=True,
            pull=False,
            network_mode="none",
            buildargs={"BASE": base},
        )
        built[slug] = tag
    yield built
    for tag in built.values():
        client.images.remove(tag, force=True)


def run(
    client, image: str, submission: Path, results: Path, script: str = "", cpuset: str | None = None
) -> tuple[int, str, dict | None]:
    """One submission in a fresh container: (exit status, stdout, results.json or None)."""
    results.mkdir(parents=True, exist_ok=True)
    command = ["bash", "-c", f"{script}\nexec /autograder/run_autograder"]
    box = client.containers.run(
        image,
        command,
        detach=True,
        network_mode="none",
        cpuset_cpus=cpuset,
        volumes={
            str(submission): {"bind": "/autograder/submission", "mode": "ro"},
            str(results): {"bind": "/autograder/results", "mode": "rw"},
        },
    )
    try:
        status = box.wait(timeout=300)["StatusCode"]
        logs = box.logs().decode(errors="replace")
    finally:
        box.remove(force=True)
    path = results / "results.json"
    return status, logs, json.loads(path.read_text()) if path.is_file() else None


def check_format(data: dict, points: float) -> None:
    assert set(data) <= GRADESCOPE_TOP, set(data) - GRADESCOPE_TOP
    assert isinstance(data["score"], float) and data["output"]
    for t in data["tests"]:
        assert set(t) <= GRADESCOPE_TEST and t["status"] in ("passed", "failed")
        assert t["visibility"] in ("visible", "hidden", "after_due_date", "after_published")
    assert abs(sum(t["max_score"] for t in data["tests"]) - points) < TOLERANCE


def shown_names(slug: str) -> dict[str, str]:
    """An exercise's test functions -> the names Gradescope shows (their docstrings' first line)."""
    titles = {}
    for path in (ROOT / "exercises" / slug / "tests").rglob("test_*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef) and ast.get_docstring(node):
                titles[node.name] = ast.get_docstring(node).splitlines()[0]
    return titles


@pytest.mark.docker
@pytest.mark.slow
@pytest.mark.parametrize("slug,student,want", sample_cases())
def test_sample_class_scores_as_grader_grade(client, images, tmp_path, slug, student, want):
    status, logs, data = run(client, images[slug], SAMPLE / slug / student, tmp_path)
    assert data is not None, logs
    check_format(data, 10.0)
    # a racy submission's value tests may lose updates on this machine: each costs its points
    # (Gradescope's "failed" is any verdict but passed; these tests can only lose updates)
    may = frozenset(shown_names(slug)[f] for f in races_may_show(SAMPLE).get((slug, student), ()))
    want = expected_now(
        want, [(t["name"], t["status"], t["max_score"]) for t in data["tests"]], may
    )
    assert abs(data["score"] - want) <= TOLERANCE, (
        f"{slug}/{student}: {data['score']} != {want}\n{logs}"
    )
    assert status == 0, logs
    if data["score"] < want or want < 10:  # every lost point comes with our explanation
        assert any(t["status"] == "failed" and t["output"] for t in data["tests"])
    if student == "jack":  # handed in exchange.py instead of solution.py
        assert "solution.py" in data["output"] and "exchange.py" in data["output"]
    if student == "dave":  # a syntax error
        assert "solution.py, line 4: expected ':'" in data["output"]


ONE_CORE = {
    ("locked_counter", "alice"),
    ("locked_counter", "bob"),
    ("mpi_pairwise_exchange", "gina"),
    ("mpi_pairwise_exchange", "hank"),
}


@pytest.mark.docker
@pytest.mark.slow
@pytest.mark.parametrize("slug,student,want", [c for c in sample_cases() if c[:2] in ONE_CORE])
def test_one_core_scores_the_same(client, images, tmp_path, slug, student, want):
    """Gradescope's smaller machines have one CPU: a correct program must not lose points for it
    (a false positive), nor a wrong one gain any (MPI's 4 and 5 ranks share the one core)."""
    status, logs, data = run(client, images[slug], SAMPLE / slug / student, tmp_path, cpuset="0")
    assert data is not None and status == 0, logs
    assert abs(data["score"] - want) <= TOLERANCE, (
        f"{slug}/{student}: {data['score']} != {want}\n{logs}"
    )


@pytest.mark.docker
@pytest.mark.slow
def test_no_submission_and_one_that_does_not_import(client, images, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    status, logs, data = run(client, images["locked_counter"], empty, tmp_path / "r1")
    assert status == 0 and data["score"] == 0.0, logs
    assert "The submission is empty" in data["output"]
    assert "This assignment expects solution.py" in data["output"]
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "solution.py").write_text("import no_such_module_here\n")
    status, logs, data = run(client, images["locked_counter"], broken, tmp_path / "r2")
    assert status == 0 and data["score"] == 0.0, logs
    assert all(t["status"] == "failed" for t in data["tests"])
    assert any("no_such_module_here" in t["output"] for t in data["tests"]), data


@pytest.mark.docker
@pytest.mark.slow
def test_platform_errors_say_not_graded(client, images, tmp_path):
    """The grader's own failure is written as NOT GRADED, with what failed, and exits 1."""
    alice = SAMPLE / "locked_counter" / "alice"
    status, logs, data = run(
        client,
        images["locked_counter"],
        alice,
        tmp_path / "r1",
        "rm -rf /autograder/source/course/exercises/locked_counter/tests",
    )
    assert status == 1 and data is not None, logs
    assert data["score"] == 0.0 and data["output"].startswith(NOT_A_GRADE)
    assert "no public or hidden tests folder" in data["output"]
    assert "NOT GRADED: the grader itself failed" in logs
    status, logs, data = run(
        client, images["locked_counter"], alice, tmp_path / "r2", "rm -rf /autograder/pgrader-venv"
    )
    assert status == 1 and data is not None, logs
    assert data["score"] == 0.0 and data["output"].startswith("NOT GRADED")
    assert "setup.sh did not finish" in logs


@pytest.mark.docker
@pytest.mark.slow
def test_setup_needing_the_network_says_so(client, images, tmp_path):
    """On an image without Python 3.11's venv, setup.sh installs it with apt-get; with no
    network that fails with a message that names what was missing and why the network is needed."""
    box = client.containers.run(
        images["locked_counter"],
        [
            "bash",
            "-c",
            "dpkg --remove --force-depends python3.11-venv >/dev/null 2>&1; "
            "exec bash /autograder/source/setup.sh",
        ],
        detach=True,
        network_mode="none",
    )
    try:
        status = box.wait(timeout=300)["StatusCode"]
        logs = box.logs().decode(errors="replace")
    finally:
        box.remove(force=True)
    assert status == 1, logs
    assert "ERROR: apt-get could not install python3.11-venv" in logs and "network" in logs


REACHING = """import glob as _glob

_leaked = []
for _path in _glob.glob("/autograder/source/**/*.py", recursive=True):
    try:
        with open(_path) as _f:
            _leaked.append(_f.read())
    except OSError:
        pass
try:
    with open("/autograder/results/results.json", "w") as _f:
        _f.write('{"score": 99.0, "output": "forged", "tests": []}')
except OSError:
    pass
if _leaked:
    raise RuntimeError("LEAKED " + "".join(_leaked)[:3000])
"""


@pytest.mark.docker
@pytest.mark.slow
def test_the_students_code_cannot_read_the_hidden_tests_or_write_the_results(
    client, images, tmp_path
):
    """Gradescope runs the autograder as root: the student's code runs as `pgrader-student`
    (PGRADER_AGENT_USER), the source folder is root's alone, the results folder not theirs."""
    want = next(w for s, st, w in sample_cases() if (s, st) == ("locked_counter", "alice"))
    sub = tmp_path / "sub"
    sub.mkdir()
    alice = (SAMPLE / "locked_counter" / "alice" / "solution.py").read_text()
    (sub / "solution.py").write_text(REACHING + alice)
    status, logs, data = run(client, images["locked_counter"], sub, tmp_path / "r")
    assert status == 0 and data is not None, logs
    text = json.dumps(data)
    assert "LEAKED" not in text and "forged" not in text and "def test_" not in text, text[:2000]
    assert abs(data["score"] - want) <= TOLERANCE, (data["score"], want, logs)
    assert "the student's code as uid" in logs, logs
