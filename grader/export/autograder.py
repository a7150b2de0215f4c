"""`grader export SLUG --format gradescope-autograder`: the exercise as a Gradescope autograder.

The zip holds, at its root, Gradescope's `setup.sh` and `run_autograder` (templates in
`grader/templates/gradescope_*`), and:

- `wheels/`: a wheel of this grader and the wheels the exercise's tests need (pytest, and numpy,
  mpi4py/mpich, pyopencl or celery when they use them), for Python 3.11 on this machine's
  platform, from the cache `grader release` fills (`grader.release.add_wheels`); `setup.sh`
  installs them with `pip --no-index` into /autograder/pgrader-venv;
- `requirements.txt`: what to install from them (pinned as the sandbox image pins them);
- `course/`: a course of this one exercise: its statement, skeleton, public and hidden tests
  (never the reference solution or the mutants), its limits and points; no late policy and
  no dates (Gradescope applies its own);
- `native/mpi_strict.so` (MPI exercises): the grader's MPI library, compiled here as it
  is for the sandbox image (Gradescope's image need not have a compiler);
- `README.md`: what the zip is, for whoever opens it.

Debian/Ubuntu packages the exercise needs (PoCL and Oclgrind for OpenCL, as in the sandbox's
base image) are installed by `setup.sh` with apt-get when the image lacks them.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
import zipfile
from pathlib import Path

from grader import __version__
from grader.course import Course, Exercise
from grader.errors import GraderError
from grader.release import JUNK, add_wheels, requirements

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
EXECUTABLE = 0o755


def apt_packages(reqs: list[str]) -> list[str]:
    """The system packages the exercise's runtime needs beside its wheels: OpenCL's (the
    sandbox base image's, less Python). MPI needs none: MPICH comes as a wheel."""
    from grader.sandbox.image import BASE_PACKAGES

    if any(r.split("==")[0] == "pyopencl" for r in reqs):
        return [p for p in BASE_PACKAGES if not p.startswith("python3")]
    return []


def course_toml(course: Course, exercise: Exercise) -> str:
    q = json.dumps  # a JSON string is a valid TOML basic string
    lines = [
        "[course]",
        f"name = {q(course.name)}",
        f"term = {q(course.term)}",
        'backend = "local"',
        f"timezone = {q(course.timezone)}",
        "",
        "[limits]",
    ]
    lines += [f"{k} = {v}" for k, v in vars(course.limits).items()]
    lines += ["", "[[exercise]]", f"slug = {q(exercise.slug)}", f"points = {exercise.points:g}"]
    return "\n".join(lines) + "\n"


def _script(name: str, exercise: Exercise, apt: list[str]) -> str:
    text = (TEMPLATES / name).read_text(encoding="utf-8")
    why = f" and {', '.join(apt)}" if apt else ""
    return (
        text.replace("@SLUG@", exercise.slug)
        .replace("@VERSION@", __version__)
        .replace("@APT_PACKAGES@", " ".join(apt))
        .replace("@APT_WHY@", why)
    )


def readme(exercise: Exercise, reqs: list[str], apt: list[str]) -> str:
    gpu = (
        "\nThis exercise's tests run kernels on a GPU. Gradescope's machines have none: "
        'every submission gets 0 with the message "NOT GRADED ... needs a GPU". Grade it '
        "with pgrader on a machine that has a GPU instead.\n"
        if exercise.runtime.gpu
        else ""
    )
    return f"""# Gradescope autograder: {exercise.title} ({exercise.slug})

Made by pgrader {__version__} (`grader export {exercise.slug} --format gradescope-autograder`).
Upload this zip as the assignment's autograder (Configure Autograder, Zip file upload), with
Gradescope's **Ubuntu 22.04** base image. Students hand in {", ".join(exercise.files)}.

- `setup.sh` (Gradescope runs it once, as root, while building the image): installs Python 3.11
  if missing{" and " + ", ".join(apt) if apt else ""} with apt-get, then the grader and
  {", ".join(reqs)} from `wheels/`, offline, into /autograder/pgrader-venv.
- `run_autograder` (for every submission): grades /autograder/submission with the hidden and
  public tests on pgrader's local backend and writes /autograder/results/results.json: a score
  and our explanation per test. Nothing it does needs the network.
- `course/`: the exercise ({exercise.points:g} points): statement, tests, limits. No solution.
{gpu}"""


def autograder_zip(course: Course, exercise: Exercise, out: Path) -> str:
    """Write the autograder zip of `exercise` to `out`; returns what was written."""
    if out.is_dir():
        raise GraderError(
            f"--out {out} is a folder: give the zip's file name, e.g. {out / 'autograder.zip'}"
        )
    with tempfile.TemporaryDirectory(prefix="pgrader-autograder-") as tmp:
        stage = Path(tmp) / "autograder"
        ex_dir = stage / "course" / "exercises" / exercise.slug
        shutil.copytree(exercise.root, ex_dir, ignore=JUNK)
        (stage / "course" / "course.toml").write_text(
            course_toml(course, exercise), encoding="utf-8"
        )
        reqs = requirements(exercise, ex_dir)
        add_wheels(exercise, ex_dir, stage / "wheels")
        (stage / "requirements.txt").write_text("\n".join(reqs) + "\n", encoding="utf-8")
        if exercise.runtime.mpi_ranks:
            from grader.checks import mpi_setup

            try:
                mpi_setup.build_shim(stage / "native" / "mpi_strict.so")
            except (OSError, subprocess.SubprocessError) as exc:
                raise GraderError(
                    f"building the MPI strict-mode library failed: {exc}; install "
                    "gcc (scripts/setup-packages.sh)"
                ) from exc
        apt = apt_packages(reqs)
        (stage / "setup.sh").write_text(_script("gradescope_setup.sh", exercise, apt))
        (stage / "run_autograder").write_text(_script("gradescope_run_autograder", exercise, apt))
        (stage / "README.md").write_text(readme(exercise, reqs, apt), encoding="utf-8")
        out.parent.mkdir(parents=True, exist_ok=True)
        part = out.with_name(out.name + ".part")
        with zipfile.ZipFile(part, "w", zipfile.ZIP_DEFLATED) as z:
            for path in sorted(stage.rglob("*")):
                if path.is_file():
                    info = zipfile.ZipInfo.from_file(path, path.relative_to(stage).as_posix())
                    executable = path.name in ("setup.sh", "run_autograder") or path.suffix == ".so"
                    info.external_attr = ((EXECUTABLE if executable else 0o644) | 0o100000) << 16
                    info.compress_type = (
                        zipfile.ZIP_STORED if path.suffix == ".whl" else zipfile.ZIP_DEFLATED
                    )
                    z.writestr(info, path.read_bytes())
        part.replace(out)
    size = out.stat().st_size / 1e6
    note = (
        (
            "; WARNING: this exercise needs a GPU, which Gradescope's machines lack: every "
            "submission will read NOT GRADED (needs a GPU)"
        )
        if exercise.runtime.gpu
        else ""
    )
    return (
        f"{out} ({size:.1f} MB): upload it to Gradescope as the autograder of "
        f"{exercise.slug} (Ubuntu 22.04 base image; docs/gradescope.md){note}"
    )
