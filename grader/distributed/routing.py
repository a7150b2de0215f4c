"""Which queue a job goes to: workers serve queues by what their machine can run."""

from __future__ import annotations

from grader.course import Exercise
from grader.errors import GraderError

QUEUES = ("cpu", "mpi", "gpu")


def queue_for(exercise: Exercise) -> str:
    """`gpu` for GPU exercises, `mpi` for exercises run at several MPI ranks, else `cpu`."""
    if exercise.runtime.gpu:
        return "gpu"
    if exercise.runtime.mpi_ranks:
        return "mpi"
    return "cpu"


def parse_queues(text: str) -> list[str]:
    """`cpu,mpi` → ['cpu', 'mpi']; an unknown or empty list is refused."""
    queues = [q.strip() for q in text.split(",") if q.strip()]
    unknown = sorted(set(queues) - set(QUEUES))
    if not queues or unknown:
        raise GraderError(
            f"--queues: expected a comma-separated list of {', '.join(QUEUES)}, got {text!r}"
        )
    return list(dict.fromkeys(queues))
