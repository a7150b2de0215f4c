"""Run one pair of the corpus once: through our checks, as a plain stress test, or with frontrun.

    with open_student(pair, "bug", backend) as student:
        outcome = check_once(pair, student, seed=7)     # Outcome(found=True, verdict="race", ...)
        outcome = stress_once(pair, student)
    outcomes = frontrun_runs(pair, "bug", seeds=[7, 8])  # in a fresh subprocess

`found` means "this run flagged the code": on the bug, a verdict in `pair.detects` for our
checks, a hang, an exception raised in the student's code or a broken invariant for plain
stress, a failed exploration for frontrun; on the twin, *any* verdict other than a pass (a false
positive, whatever its label). A fault of the platform or of the harness itself (a sandbox
fault, an exception with no frame of the student's code, frontrun raising) is an `error`: never
a detection, never a pass, counted and shown apart. A run that could not happen here (a GPU
pair on a machine without one: the check raised `NotRun`, or plain stress was not tried) is
`not_run`: neither a find, nor a pass, nor a false positive.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from grader.course import Limits
from grader.judge.proxy import Student
from grader.judge.verdicts.reply import raise_for
from grader.judge.verdicts import NotRun, SandboxFault, Verdict
from grader.sandbox import get_backend

ROOT = Path(__file__).resolve().parents[2]
LIMITS = Limits(wall_seconds=30)


@dataclasses.dataclass
class Outcome:
    found: bool
    verdict: str        # verdict status, "passed", "inconclusive", or an error kind
    seconds: float
    seed: int | None = None
    message: str = ""
    error: bool = False  # the platform or the harness failed: neither a find nor a pass
    repeats: int = 1     # plain stress: calls made within the run's budget
    not_run: bool = False  # could not run on this machine (e.g. no GPU): no verdict at all
    scale: int = 1       # frontrun: the budget it ended with, in multiples of the first


@contextlib.contextmanager
def open_student(pair, variant: str, backend: str = "local"):
    """A `Student` on a sandbox session whose submission is the pair's `variant`.py."""
    with tempfile.TemporaryDirectory(prefix=f"bug-{pair.name}-") as tmp:
        folder = Path(tmp) / "submission"
        folder.mkdir()
        shutil.copy(pair.source(variant), folder / f"{pair.module}.py")
        with get_backend(backend).open(folder, LIMITS, gpu=pair.needs == "gpu") as session:
            yield Student(session=session, module=pair.module, timeout=10,
                          limits=dataclasses.asdict(LIMITS), submission=folder)


def missing_runtime(pair) -> str:
    """Why the pair cannot run on this machine ("" when it can): a GPU pair needs an NVIDIA GPU
    (the checks then raise `NotRun` themselves; plain stress is not tried)."""
    from grader.sandbox.gpu import host_has_gpu

    if pair.needs == "gpu" and not host_has_gpu():
        return "not run: needs a GPU (no NVIDIA GPU on this machine)"
    return ""


ERRORS = ("grader-error", "harness-error")


def _judged(pair, variant: str, run, seed, detects) -> Outcome:
    """Run once; `detects(verdict)` says whether a verdict on the bug is the detection."""
    start = time.perf_counter()
    try:
        run()
    except SandboxFault as fault:
        return Outcome(False, "grader-error", time.perf_counter() - start, seed, str(fault)[:300],
                       error=True)
    except NotRun as verdict:
        return Outcome(False, "not-run", time.perf_counter() - start, seed, verdict.message[:300],
                       not_run=True)
    except Verdict as verdict:
        seconds = time.perf_counter() - start
        if verdict.status == "error" and not _in_student_code(verdict):
            return Outcome(False, "harness-error", seconds, seed, verdict.message[:300], error=True)
        found = detects(verdict) if variant == "bug" else True
        return Outcome(found, verdict.status, seconds, seed, verdict.message[:300])
    except Exception as exc:  # noqa: BLE001 - the harness's own code broke: never a find
        return Outcome(False, "harness-error", time.perf_counter() - start, seed,
                       f"{type(exc).__name__}: {exc}"[:300], error=True)
    return Outcome(False, "passed", time.perf_counter() - start, seed)


def _in_student_code(verdict: Verdict) -> bool:
    """An exception verdict raised from a frame of the submission (not the harness's probe)."""
    exc = verdict.details.get("exception") or {}
    return "frames" not in exc or any(f.get("student") for f in exc["frames"])


def check_once(pair, student: Student, seed: int, variant: str = "bug") -> Outcome:
    """One grading run of our checks (the request and helper of `pair.grade`)."""
    return _judged(pair, variant, lambda: pair.grade(student, seed), seed,
                   lambda verdict: verdict.status in pair.detects)


def stress_once(pair, student: Student, variant: str = "bug", budget: float = 0.0) -> Outcome:
    """One plain stress run: the plain call repeated until it flags something or `budget`
    seconds (the wall-clock time our check took on the same code) are spent, at least once. A
    hang, an exception in the student's code or a false invariant is a find (plain stress has
    no notion of "the right verdict")."""
    stress = pair.stress
    if why := missing_runtime(pair):
        return Outcome(False, "not-run", 0.0, None, why, not_run=True, repeats=0)
    repeats = [0]

    def run():
        start = time.perf_counter()
        while True:
            repeats[0] += 1
            reply = student.reply(stress.target, *stress.args, timeout=stress.timeout,
                                  **stress.options)
            raise_for(reply)
            if not stress.invariant(reply.value):
                raise Verdict(f"invariant broken: {stress.describe}; got {reply.value!r:.200}")
            if time.perf_counter() - start >= budget:
                return

    outcome = _judged(pair, variant, run, None, lambda verdict: True)
    outcome.repeats = repeats[0]
    return outcome


# ---------------------------------------------------------------- frontrun, in a subprocess

FRONTRUN_BUDGET = 20.0  # seconds one exploration may take (total_timeout)
FRONTRUN_ATTEMPTS = 2000  # interleavings one exploration may try (max_attempts)
FRONTRUN_MAX_OPS = 20000  # scheduling steps one interleaving may take (max_ops; frontrun's 300
#                           cut the lost_wakeup_event ping-pong short: "inconclusive")
FRONTRUN_SCALES = (1, 4, 16)  # an exploration of the bug that ends at its budget without a find
#                               is run again with every budget this many times larger


def frontrun_runs(pair, variant: str, seeds: list[int]) -> list[Outcome]:
    """`frontrun.explore` (random strategy, one per seed) of the pair in a fresh interpreter
    started by the `frontrun` command (its random explorer needs that environment), so a hang
    or frontrun's patching of threading cannot touch the caller. Seeds that got no answer in
    time count as "hung"."""
    frontrun = Path(sys.executable).with_name("frontrun")
    command = [str(frontrun), sys.executable, "-m", "bugs.harness", pair.name, variant,
               *map(str, seeds)]
    try:
        done = subprocess.run(command, cwd=ROOT / "tests", capture_output=True, text=True,
                              timeout=30 + (FRONTRUN_BUDGET * sum(FRONTRUN_SCALES) + 5)
                              * len(seeds))
        stdout, why = done.stdout, done.stderr[-300:]
    except subprocess.TimeoutExpired as exc:
        stdout, why = (exc.stdout or b"").decode(errors="replace"), "no answer from frontrun in time"
    results = {}
    for line in stdout.splitlines():
        with contextlib.suppress(ValueError):
            result = json.loads(line)
            results[result["seed"]] = result
    return [_frontrun_outcome(variant, r, seed) if (r := results.get(seed))
            else Outcome(False, "hung", 0.0, seed, why, error=True)
            for seed in seeds]


def _frontrun_outcome(variant: str, r: dict, seed: int) -> Outcome:
    """A failed exploration is a find; on the twin an inconclusive one is flagged too (it is not
    a pass); frontrun raising is an error of the tool."""
    if r["verdict"] == "frontrun-error":
        return Outcome(False, "frontrun-error", r["seconds"], seed, r["message"][:300], error=True)
    found = r["holds"] is False if variant == "bug" else r["holds"] is not True
    verdict = r["verdict"] + (" at its largest budget" if r.get("limited") else "")
    return Outcome(found, verdict, r["seconds"], seed, r["message"][:300],
                   scale=r.get("scale", 1))


def budget_was_limit(holds, explored: int, seconds: float, scale: int) -> bool:
    """Whether an exploration that found nothing stopped at its budget (no answer, every attempt
    used, or out of time) rather than on a pass certificate within it."""
    return holds is not False and (
        holds is None or explored >= FRONTRUN_ATTEMPTS * scale
        or seconds >= 0.95 * FRONTRUN_BUDGET * scale)


def _load(pair, variant):
    import importlib.util

    spec = importlib.util.spec_from_file_location(f"{pair.name}_{variant}", pair.source(variant))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _explore(pair, variant: str, seed: int) -> dict:
    """Run frontrun on the pair (in this process) and describe what it concluded."""
    import asyncio
    import inspect

    import frontrun

    start = time.perf_counter()
    for scale in FRONTRUN_SCALES if variant == "bug" else FRONTRUN_SCALES[:1]:
        kwargs = pair.frontrun(_load(pair, variant))
        began = time.perf_counter()
        try:
            result = frontrun.explore(**kwargs, strategy="random", seed=seed,
                                      max_attempts=FRONTRUN_ATTEMPTS * scale,
                                      max_ops=FRONTRUN_MAX_OPS * scale,
                                      total_timeout=FRONTRUN_BUDGET * scale, deadlock_timeout=2.0)
            if inspect.iscoroutine(result):
                result = asyncio.run(result)
        except Exception as exc:  # noqa: BLE001 - an exploration that breaks is not a verdict
            return {"holds": None, "verdict": "frontrun-error",
                    "seconds": time.perf_counter() - start,
                    "message": f"{type(exc).__name__}: {exc}", "scale": scale}
        holds = result.property_holds
        limited = budget_was_limit(holds, result.num_explored, time.perf_counter() - began, scale)
        if not limited:
            break
    verdict = {True: "passed", False: "found", None: "inconclusive"}[holds]
    return {"holds": holds, "verdict": verdict, "seconds": time.perf_counter() - start,
            "scale": scale, "limited": variant == "bug" and limited,
            "message": (result.explanation or getattr(result, "inconclusive_reason", "") or "")}


if __name__ == "__main__":
    from bugs.catalogue import BY_NAME

    name, variant, *seeds = sys.argv[1:]
    for seed in map(int, seeds):
        print(json.dumps({"seed": seed, **_explore(BY_NAME[name], variant, seed)}, default=str),
              flush=True)
