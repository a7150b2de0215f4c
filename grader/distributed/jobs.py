"""A submission packed into a job message, and unpacked on the worker.

The submission goes through intake on the submitter (so a broken one is refused there, with
the student's reason, exactly as on the local path) and travels as a zip of its clean files
inside the message: workers need no shared folder. A job id is derived from what is graded,
so the same job sent again (a re-send, a rerun after an interruption) has the same id and
its stored result is reused instead of being graded twice.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import io
import json
import tempfile
import zipfile
from pathlib import Path

from grader.course import Exercise
from grader.errors import GraderError
from grader.intake import content_hash, prepare_submission

VERSION = 1
MAX_ZIP_BYTES = 32 * 1024 * 1024  # intake keeps a submission under 20 MB of files


class BadJob(GraderError):
    """A job message that is not one this version of the grader sends."""


def pack(
    exercise: Exercise,
    course_name: str,
    student: str,
    path: Path,
    received: dt.datetime | None,
    seed: int | None,
) -> dict:
    """The job message for one submission; raises SubmissionError if intake refuses it."""
    buf = io.BytesIO()
    with tempfile.TemporaryDirectory(prefix="pgrader-pack-") as tmp:
        clean = prepare_submission(path, exercise.files, Path(tmp) / "submission")
        content = content_hash(clean)
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
            for file in sorted(p for p in clean.rglob("*") if p.is_file()):
                zf.write(file, file.relative_to(clean).as_posix())
    data = buf.getvalue()
    if len(data) > MAX_ZIP_BYTES:
        raise BadJob(
            f"{student}: the packed submission is {len(data)} bytes, over the "
            f"{MAX_ZIP_BYTES} bytes a job may carry"
        )
    return {
        "v": VERSION,
        "course": course_name,
        "exercise": exercise.slug,
        "student": student,
        "zip": base64.b64encode(data).decode("ascii"),
        "received": received.isoformat() if received else None,
        "seed": seed,
        "content": content,
        "fingerprint": fingerprint(exercise),
    }


def unpack(job: object, dest: Path) -> tuple[dict, Path, dt.datetime | None]:
    """Check a job message; write its submission to `dest/submission.zip`."""
    if not isinstance(job, dict) or job.get("v") != VERSION:
        raise BadJob(f"not a version {VERSION} grading job")
    for key in ("course", "exercise", "student", "zip"):
        if not isinstance(job.get(key), str) or not job[key]:
            raise BadJob(f"job field {key!r} is missing or not a string")
    if job.get("seed") is not None and (
        not isinstance(job["seed"], int) or isinstance(job["seed"], bool)
    ):
        raise BadJob("job field 'seed' is not an integer")
    if len(job["zip"]) > MAX_ZIP_BYTES * 4 // 3 + 4:
        raise BadJob("job carries a submission over the size limit")
    try:
        data = base64.b64decode(job["zip"], validate=True)
        received = dt.datetime.fromisoformat(job["received"]) if job.get("received") else None
    except (ValueError, TypeError) as exc:
        raise BadJob(f"job field is malformed: {exc}") from None
    if received is not None and received.tzinfo is None:
        raise BadJob("job field 'received' has no time zone")
    path = dest / "submission.zip"
    path.write_bytes(data)
    return job, path, received


def fingerprint(exercise: Exercise) -> str:
    """What the grading of `exercise` depends on in the course folder: its tests (bytecode
    caches aside), points, weights, files, runtime needs and limits. A worker whose copy of
    the course differs refuses the job rather than grade it by other rules."""
    from dataclasses import asdict

    h = hashlib.sha256(
        json.dumps(
            [
                exercise.points,
                exercise.weights,
                exercise.files,
                exercise.module,
                asdict(exercise.runtime),
                asdict(exercise.limits),
            ],
            sort_keys=True,
        ).encode()
    )
    tests = exercise.root / "tests"
    for path in sorted(tests.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc":
            h.update(path.relative_to(tests).as_posix().encode() + b"\0" + path.read_bytes())
    return h.hexdigest()


def job_id(namespace: str, exercise: str, student: str, content: str, request_key: str) -> str:
    """A stable id for grading `content` of `student` under `request_key` in one store."""
    digest = hashlib.sha256(
        json.dumps([namespace, exercise, student, content, request_key]).encode()
    ).hexdigest()
    return f"pgrader-{digest[:40]}"
