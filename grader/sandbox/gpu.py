"""GPU hosts: detecting a usable NVIDIA GPU, and the sandbox image's GPU variant.

ONLY EXERCISED ON GPU HOSTS. Where `nvidia-smi -L` lists no GPU (or
`PGRADER_NO_GPU=1` is set), sessions are opened without one and the tests that
need it end as `not-run` ("not run: no GPU on this grading machine"). Where it
lists one, the Docker backend runs the exercise in `pgrader-sandbox-gpu:<hash>`
(built from `sandbox/gpu/Dockerfile` on top of the normal image: CUDA toolkit,
compute-sanitizer and PyCUDA) and hands the container the GPUs with a device
request (this needs the NVIDIA container toolkit on the host).
"""

from __future__ import annotations

import functools
import hashlib
import os
import shutil
import subprocess

from grader.errors import SandboxUnavailable
from grader.sandbox.image import SANDBOX_DIR

GPU_DIR = SANDBOX_DIR / "gpu"


@functools.cache
def host_has_gpu() -> bool:
    """True when `nvidia-smi -L` works and lists a GPU (the driver is loaded)."""
    if os.environ.get("PGRADER_NO_GPU") == "1":
        return False
    exe = shutil.which("nvidia-smi")
    if not exe:
        return False
    try:
        proc = subprocess.run([exe, "-L"], capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return proc.returncode == 0 and "GPU" in proc.stdout


def device_requests() -> list:
    """Docker's equivalent of `--gpus all`."""
    from docker.types import DeviceRequest

    return [DeviceRequest(count=-1, capabilities=[["gpu"]])]


def gpu_image_tag(base_tag: str) -> str:
    h = hashlib.sha256(base_tag.encode() + (GPU_DIR / "Dockerfile").read_bytes())
    return f"pgrader-sandbox-gpu:{h.hexdigest()[:12]}"


def ensure_gpu_image(client, base_tag: str, log=print) -> str:
    """The GPU variant of the sandbox image `base_tag`, built if missing. Unlike the normal image
    this build downloads (NVIDIA's CUDA packages, PyCUDA's source): it runs once per GPU host."""
    import docker

    tag = gpu_image_tag(base_tag)
    try:
        return client.images.get(tag).id
    except docker.errors.ImageNotFound:
        pass
    log(f"pgrader: building {tag} (CUDA toolkit and PyCUDA; needs the network once) ...")
    try:
        image, _ = client.images.build(
            path=str(GPU_DIR),
            tag=tag,
            rm=True,
            forcerm=True,
            pull=False,
            buildargs={"SANDBOX": base_tag},
        )
    except (docker.errors.BuildError, docker.errors.APIError) as exc:
        raise SandboxUnavailable(f"building the GPU sandbox image {tag} failed: {exc}") from exc
    return image.id
