"""`otter grade` (otter-grader's Docker batch mode) made to run on this machine, offline.

otter-grader 7 builds a grading image on every `otter grade` from its own Dockerfile
(`otter/grade/Dockerfile`) over `--image` (default `ubuntu:22.04`): `apt-get update` and
`apt-get install curl unzip dos2unix wget`, then the autograder zip's `setup.sh`, which
apt-installs compilers and R's libraries, downloads Miniforge from GitHub and creates a conda
env (Python, `otter-grader[grading,plugins]`, `jupyter_server`) from conda-forge and PyPI; each
container runs the zip's `run_autograder` (`mamba activate otter-env; python run_otter.py`).
Here no registry can be pulled and containers cannot verify PyPI's TLS, so (`CHANGES`, quoted
in the benchmark's report) the same environment is built once from the host, offline:

- `ensure_base_image`: `pgrader-otter-base:<hash>` over our sandbox's Debian base
  (`pgrader-base:*`, `grader/sandbox/image.py`), with the Debian packages otter's Dockerfile
  installs (`.deb` files downloaded on the host, `dpkg -i`), apt's sources removed (so the
  Dockerfile's `apt-get update` and `install` find nothing to fetch and everything installed),
  and a venv `/opt/otter-env` with otter-grader's wheels (`pip wheel` on the host, pinned to the
  bench venv's versions; `pip install --no-index`). It is passed as `otter grade --image`.
- `offline_zip`: the zip of `otter generate` with `setup.sh` a no-op (its environment is the
  base image's) and `run_autograder` activating `/opt/otter-env` instead of mamba.
- `docker_shim`: Docker 20.10 from Debian has no buildx plugin, and otter builds with
  python-on-whales's `docker buildx build`: a `docker` first on otter's PATH answers `buildx
  inspect`/`ls` (the engine's own builder, driver `docker`) and runs `buildx build` as the
  classic `docker build` (same context, Dockerfile, build args and tag; `--load` dropped, the
  classic builder loads anyway); every other command goes to the real `docker` unchanged.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / ".cache"
DEBS = CACHE / "otter-debs"
WHEELS = CACHE / "otter-wheelhouse"
ENV = "/opt/otter-env"
# What otter's Dockerfile apt-installs itself (its setup.sh's packages are for R and PDFs).
DEB_PACKAGES = ("curl", "dos2unix", "unzip", "wget")
# The first row of final_grades.csv: each question's points possible.
POINTS_POSSIBLE = "points-per-question"
NOT_DEPENDENCIES = ("recommends", "suggests", "conflicts", "breaks", "replaces", "enhances")
REQUIREMENTS = ("otter-grader[grading,plugins]=={version}", "jupyter_server")

CHANGES = (
    "otter's own Dockerfile and `otter grade` CLI, with an offline base image "
    "(`--image pgrader-otter-base`: our sandbox's Debian 12 base, Python 3.11.2, plus the apt "
    "packages otter's Dockerfile installs, as host-downloaded .deb files, apt's sources removed, "
    "and a venv of otter-grader[grading,plugins] and jupyter_server at the bench venv's "
    "versions, from host-built wheels) in place of `ubuntu:22.04`; in the autograder zip, "
    "`setup.sh` emptied (it downloads Miniforge and builds a conda env from the network: "
    "preinstalled in the base instead), `run_autograder` activating that venv instead of "
    "mamba, and an empty `files/` folder added (Docker's classic builder, unlike BuildKit, "
    "fails the Dockerfile's `ADD files*` when nothing matches); a `docker` shim first on "
    "otter's PATH running python-on-whales's `docker buildx build` as the classic `docker "
    "build` (this Docker 20.10 has no buildx plugin)"
)
BACKPORTS = WHEELS / ".backports"

BASE_DOCKERFILE = f"""ARG BASE
FROM ${{BASE}}
COPY debs /tmp/debs
RUN dpkg -i /tmp/debs/*.deb && rm -rf /tmp/debs /var/lib/apt/lists/* \\
    && rm -f /etc/apt/sources.list && find /etc/apt/sources.list.d -type f -delete
COPY wheels /tmp/wheels
COPY requirements.txt /tmp/requirements.txt
RUN python3 -m venv {ENV} \\
    && {ENV}/bin/pip install -q --no-index --find-links /tmp/wheels -r /tmp/requirements.txt \\
    && rm -rf /tmp/wheels /tmp/requirements.txt
"""

SETUP_SH = """#!/usr/bin/env bash
# Offline: otter's environment is preinstalled in the base image (scripts/otter_offline.py).
set -e
"""

RUN_AUTOGRADER = f"""#!/bin/bash
. {ENV}/bin/activate
python /autograder/source/run_otter.py
"""

SHIM = '''#!{python}
"""`docker buildx` for an engine without the buildx plugin (scripts/otter_offline.py)."""
import json, os, sys

REAL = {real!r}
args = sys.argv[1:]
if args[:2] == ["buildx", "inspect"]:
    print("Name:   default\\nDriver: docker")
    sys.exit(0)
if args[:2] == ["buildx", "ls"]:
    print(json.dumps({{"Name": "default", "Driver": "docker"}}))
    sys.exit(0)
if args[:2] == ["buildx", "build"]:
    args = ["build", *[a for a in args[2:] if a != "--load"]]
os.execv(REAL, [REAL, *args])
'''


def _run(argv: list[str], **kw) -> str:
    proc = subprocess.run(argv, capture_output=True, text=True, **kw)
    if proc.returncode:
        tail = (proc.stdout + proc.stderr)[-1500:]
        raise RuntimeError(f"{' '.join(argv[:4])} ... exited {proc.returncode}:\n{tail}")
    return proc.stdout


def deb_closure(depends_output: str, installed: set[str]) -> list[str]:
    """The packages of `apt-cache depends --recurse` output not in `installed` (virtual
    `<names>` and the indented relation lines skipped)."""
    names = {line.strip() for line in depends_output.splitlines() if line[:1].isalnum()}
    return sorted(names - installed)


def _ensure_debs(base: str, log) -> list[Path]:
    """Download (on the host) the .deb files of DEB_PACKAGES and their dependencies that the
    base image lacks."""
    listed = _run(["docker", "run", "--rm", "--network", "none", base, "dpkg-query", "-W"])
    installed = {line.split("\t")[0].split(":")[0] for line in listed.splitlines()}
    depends = _run(
        [
            "apt-cache",
            "depends",
            "--recurse",
            *(f"--no-{k}" for k in NOT_DEPENDENCIES),
            *DEB_PACKAGES,
        ]
    )
    wanted = deb_closure(depends, installed)
    have = {p.name.split("_")[0] for p in DEBS.glob("*.deb")}
    missing = [w for w in wanted if w not in have]
    if missing:
        log(f"otter: downloading {len(missing)} .deb files on the host into {DEBS}")
        DEBS.mkdir(parents=True, exist_ok=True)
        _run(["apt-get", "download", *missing], cwd=DEBS)
    return sorted(p for p in DEBS.glob("*.deb") if p.name.split("_")[0] in wanted)


def rejecting(wheels: list[tuple[str, str]], python: str) -> dict[str, str]:
    """Of the (name, Requires-Python) of some wheels, those whose Requires-Python excludes
    `python`: name -> that Requires-Python."""
    from packaging.specifiers import SpecifierSet

    return {n: spec for n, spec in sorted(wheels) if spec and python not in SpecifierSet(spec)}


def _requires_python(wheel: Path) -> str:
    with zipfile.ZipFile(wheel) as zf:
        meta = next(n for n in zf.namelist() if n.endswith(".dist-info/METADATA"))
        for line in zf.read(meta).decode("utf-8", "replace").splitlines():
            if line.startswith("Requires-Python:"):
                return line.split(":", 1)[1].strip()
    return ""


def _ensure_wheels(venv_python: Path, version: str, python: str, log) -> list[str]:
    """Build otter's wheelhouse on the host, pinned to the bench venv's versions; where a pinned
    wheel rejects the image's Python (Debian's 3.11.2), add its newest release that accepts it
    (pip in the image then picks that one)."""
    reqs = [r.format(version=version) for r in REQUIREMENTS]
    stamp = WHEELS / ".requirements"
    if stamp.is_file() and stamp.read_text().splitlines() == [*reqs, python]:
        return reqs
    log(f"otter: building otter-grader {version}'s wheels on the host into {WHEELS}")
    WHEELS.mkdir(parents=True, exist_ok=True)
    for old in WHEELS.glob("*.whl"):  # exactly the pinned versions, none of an older build
        old.unlink()
    pins = _run([str(venv_python), "-m", "pip", "freeze"])
    with tempfile.NamedTemporaryFile("w", suffix=".txt") as constraints:
        constraints.write(pins)
        constraints.flush()
        _run(
            [str(venv_python), "-m", "pip", "wheel", "-q", "--disable-pip-version-check"]
            + ["-w", str(WHEELS), "-c", constraints.name, *reqs]
        )
    wheels = [(p.name.split("-")[0], _requires_python(p)) for p in WHEELS.glob("*.whl")]
    rejected = rejecting(wheels, python)
    for name in [n for n in rejected if [w for w, _ in wheels].count(n) == 1]:
        log(f"otter: {name} pinned needs Python {rejected[name]}; adding a release for {python}")
        _run(
            [str(venv_python), "-m", "pip", "download", "-q", "--disable-pip-version-check"]
            + ["--no-deps", "--only-binary=:all:", "--python-version", python]
            + ["-d", str(WHEELS), name]
        )
    after = [(p.name.split("-")[:2], _requires_python(p)) for p in WHEELS.glob("*.whl")]
    notes = [
        f"{name} {version} in place of the bench venv's (which needs Python {rejected[name]}; "
        f"the base has {python})"
        for (name, version), spec in sorted(after)
        if name in rejected and spec != rejected[name]
    ]
    BACKPORTS.write_text("".join(f"{n}\n" for n in notes))
    stamp.write_text("\n".join([*reqs, python]) + "\n")
    return reqs


def ensure_base_image(venv_python: Path, version: str, log=print) -> str:
    """The tag of the offline otter base image, built if missing (see the module's docstring)."""
    import docker

    from grader.sandbox import image as sandbox_image

    client = docker.from_env()
    base = sandbox_image.ensure_base(client, log)
    debs = _ensure_debs(base, log)
    python = _run(["docker", "run", "--rm", "--network", "none", base, "python3", "-V"])
    reqs = _ensure_wheels(venv_python, version, python.split()[-1], log)
    wheels = sorted(p for p in WHEELS.glob("*.whl"))
    h = hashlib.sha256("\n".join([base, BASE_DOCKERFILE, *reqs]).encode())
    for p in (*debs, *wheels):
        h.update(p.name.encode() + b"\0")
    tag = f"pgrader-otter-base:{h.hexdigest()[:12]}"
    try:
        client.images.get(tag)
        return tag
    except docker.errors.ImageNotFound:
        pass
    log(f"otter: building {tag} over {base} (offline) ...")
    with tempfile.TemporaryDirectory(prefix="otter-base-") as ctx:
        Path(ctx, "Dockerfile").write_text(BASE_DOCKERFILE)
        Path(ctx, "requirements.txt").write_text("\n".join(reqs) + "\n")
        for sub, files in (("debs", debs), ("wheels", wheels)):
            Path(ctx, sub).mkdir()
            for p in files:
                shutil.copy2(p, Path(ctx, sub, p.name))
        try:
            client.images.build(
                path=ctx,
                tag=tag,
                rm=True,
                forcerm=True,
                pull=False,
                network_mode="none",
                buildargs={"BASE": base},
            )
        except docker.errors.BuildError as exc:
            tail = "".join(str(c.get("stream", c.get("error", ""))) for c in exc.build_log)
            raise RuntimeError(f"building {tag} failed: {exc}\n{tail[-2000:]}") from exc
    return tag


def changes() -> str:
    """CHANGES, and the wheels that differ from the bench venv's versions (`_ensure_wheels`)."""
    notes = BACKPORTS.read_text().splitlines() if BACKPORTS.is_file() else []
    return CHANGES + "".join(f"; {n}" for n in notes)


def offline_zip(zip_path: Path) -> None:
    """Rewrite `setup.sh` and `run_autograder` in otter's autograder zip (see CHANGES)."""
    with zipfile.ZipFile(zip_path) as zf:
        members = {name: zf.read(name) for name in zf.namelist()}
    if "setup.sh" not in members or "run_autograder" not in members:
        raise RuntimeError(f"{zip_path} lacks setup.sh or run_autograder: {sorted(members)}")
    members["setup.sh"] = SETUP_SH.encode()
    members["run_autograder"] = RUN_AUTOGRADER.encode()
    with zipfile.ZipFile(zip_path, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
        if not any(name.startswith("files/") for name in members):
            zf.writestr("files/", b"")  # the classic builder fails `ADD files*` matching nothing


def docker_shim(folder: Path, real: str | None = None) -> Path:
    """A folder holding the `docker` shim (to put first on otter's PATH) over `real` (the
    `docker` on PATH by default)."""
    real = real or shutil.which("docker")
    if real is None:
        raise RuntimeError("no docker client on PATH")
    folder.mkdir(parents=True, exist_ok=True)
    shim = folder / "docker"
    shim.write_text(SHIM.format(python=sys.executable, real=os.path.realpath(real)))
    shim.chmod(0o755)
    return folder


def grade_scores(csv_text: str) -> dict[str, float | None]:
    """Points per submission (file stem) from otter grade's `final_grades.csv`; None where its
    grading status is not "Completed" (otter writes 0 points for a crashed container)."""
    import csv
    import io

    scores: dict[str, float | None] = {}
    for row in csv.DictReader(io.StringIO(csv_text)):
        name = row.get("file") or ""
        if name in ("", POINTS_POSSIBLE):
            continue
        done = row.get("grading_status") == "Completed"
        try:
            points = float(row["total_points_earned"]) if done else None
        except (KeyError, TypeError, ValueError):
            points = None
        scores[Path(name).stem] = points
    return scores
