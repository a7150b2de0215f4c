"""Sandbox backends: where the student's code runs. See `base` for the contract."""

from __future__ import annotations

import os
import sys

from grader.errors import SandboxUnavailable
from grader.sandbox.base import NOT_ROOT, Backend


def docker_available() -> bool:
    try:
        import docker  # lazy: the SDK takes a while to import, and only Docker needs it

        docker.from_env(timeout=5).ping()
        return True
    except Exception:  # noqa: BLE001 - any failure means "no engine answers"
        return False


def resolve_backend_name(name: str = "auto") -> str:
    """`auto` picks docker when an engine answers (and we are root), else local with a loud
    warning."""
    if name != "auto":
        return name
    if os.geteuid() == 0 and docker_available():
        return "docker"
    why = "no Docker engine answers" if os.geteuid() == 0 else NOT_ROOT
    print(
        f"WARNING: {why}; using the LOCAL backend. Student code then runs "
        "as your user with rlimits only: this is not a security boundary.",
        file=sys.stderr,
    )
    return "local"


def get_backend(name: str = "auto", handed_a_box: dict | bool = False) -> Backend:
    """The backend called `name`; `handed_a_box`: the test run was given a started container
    (`grader.sandbox.pool`; its `Box.describe()`), so the engine is not asked again (no ping,
    and the API version the box's starter found)."""
    name = resolve_backend_name(name)
    if name == "local":
        from grader.sandbox.local import LocalBackend  # lazy, like the Docker backend

        return LocalBackend()
    if name == "docker":
        from grader.sandbox.docker import DockerBackend  # lazy: the docker SDK, only if chosen

        version = handed_a_box.get("api_version") if isinstance(handed_a_box, dict) else None
        return DockerBackend(ping=not handed_a_box, api_version=version)
    raise SandboxUnavailable(f"unknown sandbox backend {name!r} (expected docker, local or auto)")
