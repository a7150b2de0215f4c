"""`grader release`: the student bundle of an exercise, and nothing more.

The bundle holds the statement, the skeleton files and the public tests, plus an
`exercise.toml` stripped of everything about hidden tests, so that `grader check` works in
it. Hidden tests, solutions and mutants never enter it.

It also lets a student install the checker without the internet: `wheels/` holds a wheel of
this grader and the wheels `grader check` needs for this exercise (pytest, and numpy,
mpi4py/mpich, pyopencl/PoCL or celery when the exercise uses them), for the release machine's
platform and Python; `CHECKING.md` says how to install them into a fresh venv and how to
replay a run the portal reported (`grader check SLUG --seed N`). The wheels are downloaded
once into `.cache/student-wheels/` (PyPI is needed the first time) and the grader's own
wheel is built once per version of its sources.
"""

from __future__ import annotations

import functools
import hashlib
import json
import platform
import re
import shutil
import subprocess
import sys
import threading
import zipfile
from pathlib import Path

from grader.course import Exercise
from grader.errors import GraderError

JUNK = shutil.ignore_patterns("__pycache__", "*.pyc", ".*")
GRADER_DIR = Path(__file__).resolve().parent
ROOT = GRADER_DIR.parent
CACHE = ROOT / ".cache" / "student-wheels"
SANDBOX_REQUIREMENTS = ROOT / "sandbox" / "requirements.txt"  # the versions the grader runs
CHECKER = ["pytest>=8"]  # what `grader check` itself needs besides the grader
# third-party modules a bundle's files may import -> their distribution in requirements.txt
MODULES = {
    "numpy": "numpy",
    "mpi4py": "mpi4py",
    "pyopencl": "pyopencl",
    "celery": "celery",
    "pp": "pp",
}
_IMPORT = re.compile(r"^\s*(?:import|from)\s+([A-Za-z_]\w*)", re.M)
_lock = threading.Lock()
BUNDLE_ONLY = ("README.md", "CHECKING.md", "exercise.toml", "tests", "wheels")  # not the student's
KEEP_BUILDS = 8  # grader wheels of recent source versions kept in the cache


def student_toml(exercise: Exercise) -> str:
    def q(text: str) -> str:  # a JSON string is a valid TOML basic string (quotes, \ escaped)
        return json.dumps(text, ensure_ascii=False)

    lines = [
        f"title = {q(exercise.title)}",
        f"topic = {q(exercise.topic)}",
        f"points = {exercise.points:g}",
        "files = [" + ", ".join(q(f) for f in exercise.files) + "]",
        f"module = {q(exercise.module)}",
    ]
    runtime = exercise.runtime
    lines.append("\n[runtime]")
    if runtime.mpi_ranks:
        lines.append("mpi = { ranks = [" + ", ".join(map(str, runtime.mpi_ranks)) + "] }")
    lines += [f"gpu = {str(runtime.gpu).lower()}", f"celery = {str(runtime.celery).lower()}"]
    lines.append("\n[limits]")
    lines += [f"{k} = {v}" for k, v in vars(exercise.limits).items()]
    return "\n".join(lines) + "\n"


def release(exercise: Exercise, out: Path, wheels: bool = True) -> Path:
    """Write the bundle to OUT/<slug>/ and return that folder; `wheels`: with the offline
    installation (GraderError when they cannot be had)."""
    target = out / exercise.slug
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    shutil.copy2(exercise.statement, target / "README.md")
    for item in exercise.skeleton.iterdir():
        if item.name.startswith(".") or item.name == "__pycache__":
            continue
        dest = target / item.name
        shutil.copytree(item, dest, ignore=JUNK) if item.is_dir() else shutil.copy2(item, dest)
    if exercise.public_tests.is_dir():
        shutil.copytree(exercise.public_tests, target / "tests" / "public", ignore=JUNK)
    (target / "exercise.toml").write_text(student_toml(exercise), encoding="utf-8")
    if wheels:
        add_wheels(exercise, target, target / "wheels")
    (target / "CHECKING.md").write_text(checking_md(exercise, wheels), encoding="utf-8")
    return target


# ---------------------------------------------------------------- the offline installation


def requirements(exercise: Exercise, bundle: Path) -> list[str]:
    """What `grader check` needs for this exercise, pinned as the grader's sandbox pins it."""
    pins = {}
    for line in SANDBOX_REQUIREMENTS.read_text().splitlines():
        if (line := line.split("#")[0].strip()) and "==" in line:
            pins[line.split("==")[0].strip().lower()] = line
    need = set()
    for path in bundle.rglob("*.py"):
        need |= {
            MODULES[m] for m in _IMPORT.findall(path.read_text(errors="replace")) if m in MODULES
        }
    runtime = exercise.runtime
    if runtime.mpi_ranks:
        need |= {"numpy", "mpi4py", "mpich"}
    if runtime.gpu or exercise.topic == "gpu":
        need |= {"numpy", "pyopencl", "pocl-binary-distribution"}
    if runtime.celery:
        need |= {"celery"}
    return CHECKER + sorted(pins.get(n, n) for n in need)


def _pip(*args: str, what: str) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q", *args],
        capture_output=True,
        text=True,
        timeout=900,
    )
    if proc.returncode:
        tail = (proc.stdout + proc.stderr).strip()[-1500:]
        raise GraderError(
            f"{what} failed: {tail}\nIs PyPI reachable? It is needed once; the "
            f"wheels are then kept in {CACHE}. `grader release --no-wheels` "
            "writes a bundle without them."
        )


@functools.lru_cache(maxsize=1)
def source_hash() -> str:
    """A hash of the grader package's files (as this process started with them): its wheel is
    built once per version of them."""
    h = hashlib.sha256()
    for path in sorted(GRADER_DIR.rglob("*")):
        rel = path.relative_to(GRADER_DIR)
        if path.is_file() and "__pycache__" not in rel.parts and path.suffix != ".pyc":
            h.update(rel.as_posix().encode() + b"\0" + hashlib.sha256(path.read_bytes()).digest())
    for name in ("pyproject.toml",):
        if (ROOT / name).is_file():
            h.update((ROOT / name).read_bytes())
    return h.hexdigest()[:16]


def grader_wheel() -> Path:
    """This grader as a wheel (built with pip from the source tree, once per source hash)."""
    folder = CACHE / f"pgrader-{source_hash()}"
    found = sorted(folder.glob("pgrader-*.whl"))
    if found:
        return found[0]
    if not (ROOT / "pyproject.toml").is_file():
        raise GraderError("the grader's wheel can only be built from a source checkout")
    part = folder.with_name(folder.name + ".part")
    shutil.rmtree(part, ignore_errors=True)
    _pip("wheel", "--no-deps", "-w", str(part), str(ROOT), what="building the grader's wheel")
    part.replace(folder)
    built = sorted(
        (d for d in CACHE.glob("pgrader-*") if d.is_dir() and d.suffix != ".part"),
        key=lambda d: d.stat().st_mtime,
        reverse=True,
    )
    for old in built[KEEP_BUILDS:]:  # wheels of earlier versions of the sources
        shutil.rmtree(old, ignore_errors=True)
    return sorted(folder.glob("pgrader-*.whl"))[0]


def add_wheels(exercise: Exercise, bundle: Path, dest: Path) -> None:
    """The grader's wheel and those `grader check` needs for this exercise, into `dest`."""
    reqs = requirements(exercise, bundle)
    dest.mkdir(parents=True, exist_ok=True)
    with _lock:
        CACHE.mkdir(parents=True, exist_ok=True)
        shutil.copy2(grader_wheel(), dest)
        offline = [
            "download",
            "--only-binary=:all:",
            "--no-index",
            "--find-links",
            str(CACHE),
            "-d",
            str(dest),
            *reqs,
        ]
        try:
            _pip(*offline, what="copying the cached wheels")
        except GraderError:  # not all cached yet: fetch them once
            _pip(
                "download",
                "--only-binary=:all:",
                "-d",
                str(CACHE),
                *reqs,
                what="downloading the wheels for `grader check`",
            )
            _pip(*offline, what="copying the cached wheels")


def checking_md(exercise: Exercise, wheels: bool) -> str:
    py = f"{sys.version_info.major}.{sys.version_info.minor}"
    where = f"Python {py} on {platform.system()} {platform.machine()}"
    install = (
        f"""## Install the checker (once; no internet needed)

You need {where}, the platform of the course's machines. In this folder:

```sh
python{py} -m venv .venv
.venv/bin/pip install --no-index --no-deps wheels/*.whl
. .venv/bin/activate          # puts `grader` on your PATH (Windows: .venv\\Scripts\\activate)
```

On another platform, with the internet: `pip install wheels/pgrader-*.whl` (it fetches the
grader's dependencies from PyPI).
"""
        if wheels
        else """## Install the checker

This bundle was made without the offline wheels: install the grader as your course says.
"""
    )
    return f"""# Checking your work on your own computer: {exercise.title}

This folder is the starter bundle of `{exercise.slug}`: the statement (`README.md`), the
file(s) you write ({", ".join(f"`{f}`" for f in exercise.files)}), and the public tests
(`tests/public/`). The grader's hidden tests are not here.

{install}
## Check your solution

In this folder:

```sh
grader check {exercise.slug}
```

runs the public tests on your code with the same checks as the grader (races, deadlocks,
lost updates, parallelism...), on your machine. Each run prints its seed. When the portal
reports a public test with a seed, this replays that run and its thread switches:

```sh
grader check {exercise.slug} --seed N
```
"""


def bundle_zip(exercise: Exercise, folder: Path) -> Path:
    """The bundle as a zip (`SLUG/...`), built once per exercise content and grader version
    into `folder` (the portal's cache); without wheels, and not kept, if they cannot be had."""
    key = hashlib.sha256(source_hash().encode())
    for path in sorted(exercise.root.rglob("*")):
        rel = path.relative_to(exercise.root)
        if (
            path.is_file()
            and rel.parts[:2] != ("tests", "hidden")
            and "__pycache__" not in rel.parts
        ):
            key.update(rel.as_posix().encode() + b"\0" + path.read_bytes())
    key.update(exercise.title.encode() + repr(exercise.limits).encode())
    target = folder / f"{exercise.slug}-{key.hexdigest()[:16]}.zip"
    if target.is_file():
        return target
    with _building:
        return target if target.is_file() else _build_zip(exercise, folder, target)


_building = threading.Lock()


def _build_zip(exercise: Exercise, folder: Path, target: Path) -> Path:
    import logging
    import tempfile

    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="pgrader-bundle-", dir=folder) as tmp:
        try:
            made, keep = release(exercise, Path(tmp)), True
        except GraderError as exc:
            logging.getLogger("grader.portal").error(
                "bundle of %s without wheels: %s", exercise.slug, exc
            )
            made, keep = release(exercise, Path(tmp), wheels=False), False
        part = Path(tmp) / "bundle.zip"
        with zipfile.ZipFile(part, "w", zipfile.ZIP_DEFLATED) as z:
            for path in sorted(made.rglob("*")):
                if path.is_file() and not path.is_symlink():
                    z.write(
                        path,
                        Path(exercise.slug) / path.relative_to(made),
                        compress_type=zipfile.ZIP_STORED if path.suffix == ".whl" else None,
                    )
        if not keep:
            fallback = folder / f"{exercise.slug}-no-wheels.zip"
            part.replace(fallback)
            return fallback
        for old in folder.glob(f"{exercise.slug}-*.zip"):
            old.unlink(missing_ok=True)
        part.replace(target)
    return target
