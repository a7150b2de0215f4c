"""The Docker sandbox image: `pgrader-sandbox:<hash>`, built offline from cached inputs.

The base `pgrader-base:bookworm-<hash>` is a Debian minbase tree made by `mmdebstrap`
and imported with `docker import` (no registry is ever contacted). On top of it
`sandbox/Dockerfile` installs a venv with the wheels of `sandbox/requirements.txt`
and copies the container side of the `grader` package (`CONTAINER_SIDE`). The tag hashes
`sandbox/` and those sources, so changing them gives a new image. The base tarball and the
wheelhouse are cached under `.cache/`; once they are there, building is offline.
"""

from __future__ import annotations

import hashlib
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from grader.checks import mpi_setup
from grader.errors import SandboxUnavailable

GRADER_DIR = Path(__file__).resolve().parent.parent
ROOT = GRADER_DIR.parent
SANDBOX_DIR = ROOT / "sandbox"
CACHE = ROOT / ".cache"
# Debian packages of the base: the interpreter; Oclgrind (an OpenCL device simulator that
# reports out-of-bounds accesses, races and barrier divergence in student kernels); Debian's
# PoCL (pocl-opencl-icd, LLVM 15: the PoCL bundled in pyopencl's wheel, LLVM 14, cannot build
# a kernel on a CPU its LLVM does not know, e.g. AMD Zen 5: "unknown target CPU 'generic'");
# and binutils + libc6-dev + libgcc-12-dev (PoCL links its CPU kernels with `ld`).
BASE_PACKAGES = (
    "python3",
    "python3-venv",
    "oclgrind",
    "pocl-opencl-icd",
    "binutils",
    "libc6-dev",
    "libgcc-12-dev",
)
_BASE_ID = hashlib.sha256(",".join(BASE_PACKAGES).encode()).hexdigest()[:8]
BASE_TAG = f"pgrader-base:bookworm-{_BASE_ID}"
BASE_TAR = CACHE / f"base-bookworm-{_BASE_ID}.tar"
WHEELHOUSE = CACHE / "wheelhouse"
# The parts of the grader package that run in the sandbox (the supervisor server, the agent, the
# checks and the protocol they speak): only these are copied into the image, so nothing there
# can import a host module (tests/test_import_graph.py pins that they need none).
CONTAINER_SIDE = ("__init__.py", "protocol.py", "agent", "checks")

MIRRORS = (
    "deb http://deb.debian.org/debian bookworm main",
    "deb http://deb.debian.org/debian bookworm-updates main",
    "deb http://deb.debian.org/debian-security bookworm-security main",
)


def _inputs() -> list[tuple[str, Path]]:
    """(name in the build context, file) for everything the image is made of."""
    if not (SANDBOX_DIR / "Dockerfile").is_file():
        raise SandboxUnavailable(
            f"{SANDBOX_DIR}/Dockerfile is missing: the Docker backend "
            "needs a source checkout of the grader"
        )
    files = [
        (p.relative_to(SANDBOX_DIR).as_posix(), p)
        for p in SANDBOX_DIR.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    ]
    for p in GRADER_DIR.rglob("*"):
        rel = p.relative_to(GRADER_DIR)
        if (
            p.is_file()
            and "__pycache__" not in rel.parts
            and p.suffix in (".py", ".c")
            and rel.parts[0] in CONTAINER_SIDE
        ):
            files.append(("grader/" + rel.as_posix(), p))
    return sorted(files)


def image_tag() -> str:
    """`pgrader-sandbox:<12 hex>`, a hash of the base, sandbox/ and the grader package's sources."""
    h = hashlib.sha256(BASE_TAG.encode())
    for name, path in _inputs():
        h.update(name.encode() + b"\0" + hashlib.sha256(path.read_bytes()).digest())
    return f"pgrader-sandbox:{h.hexdigest()[:12]}"


def _client():
    import docker

    try:
        client = docker.from_env()
        client.ping()
    except Exception as exc:  # noqa: BLE001 - any failure means "no engine"
        raise SandboxUnavailable(
            f"the Docker engine does not answer ({exc}); "
            "run scripts/setup-docker.sh or use the local backend"
        ) from exc
    return client


def _run(argv: list[str], what: str, hint: str) -> None:
    proc = subprocess.run(argv, capture_output=True, text=True)
    if proc.returncode:
        tail = (proc.stdout + proc.stderr).strip()[-1500:]
        raise SandboxUnavailable(f"{what} failed (exit code {proc.returncode}); {hint}\n{tail}")


def _ensure_base(client, log) -> None:
    """Import the base image from the cached tarball, making it with mmdebstrap if needed."""
    import docker

    try:
        client.images.get(BASE_TAG)
        return
    except docker.errors.ImageNotFound:
        pass
    if not BASE_TAR.is_file():
        if not shutil.which("mmdebstrap"):
            raise SandboxUnavailable(
                f"mmdebstrap is not installed and {BASE_TAR} is not cached: "
                "run scripts/setup-docker.sh (or apt-get install mmdebstrap)"
            )
        log(f"pgrader: building the Debian base with mmdebstrap into {BASE_TAR} ...")
        BASE_TAR.parent.mkdir(parents=True, exist_ok=True)
        part = BASE_TAR.with_suffix(".tar.part")
        part.unlink(missing_ok=True)
        _run(
            [
                "mmdebstrap",
                "--variant=minbase",
                "--format=tar",
                "--include=" + ",".join(BASE_PACKAGES),
                "bookworm",
                str(part),
                *MIRRORS,
            ],
            "mmdebstrap",
            "is deb.debian.org reachable? (needed once; the tarball is cached)",
        )
        part.replace(BASE_TAR)
    log(f"pgrader: importing {BASE_TAR.name} as {BASE_TAG}")
    repo, tag = BASE_TAG.split(":")
    client.api.import_image_from_file(str(BASE_TAR), repository=repo, tag=tag)
    client.images.get(BASE_TAG)


def ensure_base(client=None, log=print) -> str:
    """The tag of the sandbox's base image (Debian, Python 3.11, PoCL), imported if missing."""
    _ensure_base(client or _client(), log)
    return BASE_TAG


def _ensure_wheelhouse(log) -> None:
    """Download the sandbox's wheels (CPython 3.11, manylinux) unless cached for these requirements."""
    req = SANDBOX_DIR / "requirements.txt"
    stamp = WHEELHOUSE / ".requirements.sha256"
    digest = hashlib.sha256(req.read_bytes()).hexdigest()
    if stamp.is_file() and stamp.read_text().strip() == digest:
        return
    log(f"pgrader: downloading the sandbox's wheels into {WHEELHOUSE} ...")
    WHEELHOUSE.mkdir(parents=True, exist_ok=True)
    _run(
        [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--disable-pip-version-check",
            "-q",
            "--only-binary=:all:",
            "--python-version",
            "3.11",
            "--implementation",
            "cp",
            "--abi",
            "cp311",
            *(
                f"--platform={tag}_{platform.machine()}"
                for tag in ("manylinux_2_28", "manylinux2014", "manylinux1")
            ),
            "-d",
            str(WHEELHOUSE),
            "-r",
            str(req),
        ],
        "pip download of the sandbox wheels",
        "is PyPI reachable? (needed once; the wheelhouse is cached)",
    )
    stamp.write_text(digest + "\n")


def ensure_image(client=None, force: bool = False, log=print) -> str:
    """The id of the sandbox image for the current sources, building it if missing (or if `force`).

    `force` rebuilds the image without Docker's layer cache; the cached base
    tarball and wheelhouse are reused (delete `.cache/` to refetch them)."""
    import docker

    client = client or _client()
    tag = image_tag()
    if not force:
        try:
            return client.images.get(tag).id
        except docker.errors.ImageNotFound:
            pass
    t0 = time.monotonic()
    _ensure_base(client, log)
    _ensure_wheelhouse(log)
    log(f"pgrader: building {tag} ...")
    with tempfile.TemporaryDirectory(prefix="pgrader-build-") as ctx:
        for name, path in _inputs():
            dest = Path(ctx, name)
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, dest)
        shutil.copytree(
            WHEELHOUSE,
            Path(ctx, "wheelhouse"),
            ignore=shutil.ignore_patterns(".*"),
            copy_function=_link_or_copy,
        )
        _build_native(Path(ctx, "grader"))
        try:
            image, _ = client.images.build(
                path=ctx,
                tag=tag,
                rm=True,
                forcerm=True,
                nocache=force,
                pull=False,
                network_mode="none",
                buildargs={"BASE": BASE_TAG},
            )
        except docker.errors.BuildError as exc:
            tail = "".join(str(c.get("stream", c.get("error", ""))) for c in exc.build_log)
            raise SandboxUnavailable(f"building {tag} failed: {exc}\n{tail[-1500:]}") from exc
        except docker.errors.APIError as exc:
            raise SandboxUnavailable(f"building {tag} failed: {exc}") from exc
    log(f"pgrader: built {tag} in {time.monotonic() - t0:.1f} s")
    return image.id


def _build_native(package: Path) -> None:
    """Compile the C parts of the grader into the build context's copy of the package, on this
    (Debian, same glibc) host: the image has no compiler, and must not give students one."""
    try:
        mpi_setup.build_shim(package / "checks" / mpi_setup.SHIM_BUILT.name)
    except (OSError, subprocess.SubprocessError) as exc:
        raise SandboxUnavailable(
            f"building the MPI strict-mode library failed: {exc}; install "
            "gcc (scripts/setup-packages.sh)"
        ) from exc


def _link_or_copy(src, dst):
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)
    return dst
