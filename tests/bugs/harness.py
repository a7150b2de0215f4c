"""Run one pair of the corpus once: through our checks, as a plain stress test, or with frontrun.

    with open_student(pair, "bug", backend) as student:
        outcome = check_once(pair, student, seed=7)     # Outcome(found=True, verdict="race", ...)
        outcome = stress_once(pair, student)
    outcomes = frontrun_runs(pair, "bug", seeds=[7, 8])  # in a fresh subprocess

`found` means "this run reported the bug": a verdict in `pair.detects` for our checks; a hang,
an exception or a broken invariant for plain stress; a failed exploration for frontrun. On the
twin, `found` is a false positive. Anything else a run raises (a sandbox fault, another verdict)
is kept in `verdict` and counts as not found on a bug, and as a false positive on a twin.
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
from grader.judge.proxy import Student, raise_for
from grader.judge.verdicts import SandboxFault, Verdict
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


@contextlib.contextmanager
def open_student(pair, variant: str, backend: str = "local"):
    """A `Student` on a sandbox session whose submission is the pair's `variant`.py."""
    with tempfile.TemporaryDirectory(prefix=f"bug-{pair.name}-") as tmp:
        folder = Path(tmp) / "submission"
        folder.mkdir()
        shutil.copy(pair.source(variant), folder / "solution.py")
        with get_backend(backend).open(folder, LIMITS) as session:
            yield Student(session=session, module="solution", timeout=10,
                          limits=dataclasses.asdict(LIMITS))


def _judged(pair, run, seed) -> Outcome:
    start = time.perf_counter()
    try:
        run()
    except Verdict as verdict:
        return Outcome(verdict.status in pair.detects, verdict.status,
                       time.perf_counter() - start, seed, verdict.message[:300])
    except SandboxFault as fault:
        return Outcome(False, "grader-error", time.perf_counter() - start, seed, str(fault)[:300])
    return Outcome(False, "passed", time.perf_counter() - start, seed)


def check_once(pair, student: Student, seed: int) -> Outcome:
    """One grading run of our checks (the request and helper of `pair.grade`)."""
    return _judged(pair, lambda: pair.grade(student, seed), seed)


def stress_once(pair, student: Student) -> Outcome:
    """One plain run: no checks; a hang, an exception or a false invariant is a find."""
    stress = pair.stress

    def run():
        reply = student.reply(stress.target, *stress.args, timeout=stress.timeout,
                              **stress.options)
        raise_for(reply)
        if not stress.invariant(reply.value):
            raise Verdict(f"invariant broken: {stress.describe}; got {reply.value!r:.200}")

    outcome = _judged(pair, run, None)
    if outcome.verdict not in ("passed", "grader-error"):
        outcome.found = True  # plain stress has no notion of "the right verdict": any failure
    return outcome


# ---------------------------------------------------------------- frontrun, in a subprocess

FRONTRUN_BUDGET = 20.0  # seconds one exploration may take (total_timeout)


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
                              timeout=30 + (FRONTRUN_BUDGET + 5) * len(seeds))
        stdout, why = done.stdout, done.stderr[-300:]
    except subprocess.TimeoutExpired as exc:
        stdout, why = (exc.stdout or b"").decode(errors="replace"), "no answer from frontrun in time"
    results = {}
    for line in stdout.splitlines():
        with contextlib.suppress(ValueError):
            result = json.loads(line)
            results[result["seed"]] = result
    return [Outcome(r["holds"] is False, r["verdict"], r["seconds"], seed, r["message"][:300])
            if (r := results.get(seed)) else Outcome(False, "hung", 0.0, seed, why)
            for seed in seeds]


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

    kwargs = pair.frontrun(_load(pair, variant))
    start = time.perf_counter()
    try:
        result = frontrun.explore(**kwargs, strategy="random", seed=seed, max_attempts=200,
                                  total_timeout=FRONTRUN_BUDGET, deadlock_timeout=2.0)
        if inspect.iscoroutine(result):
            result = asyncio.run(result)
    except Exception as exc:  # noqa: BLE001 - an exploration that breaks is not a verdict
        return {"holds": None, "verdict": "frontrun-error", "seconds": time.perf_counter() - start,
                "message": f"{type(exc).__name__}: {exc}"}
    holds = result.property_holds
    verdict = {True: "passed", False: "found", None: "inconclusive"}[holds]
    return {"holds": holds, "verdict": verdict, "seconds": time.perf_counter() - start,
            "message": (result.explanation or getattr(result, "inconclusive_reason", "") or "")}


if __name__ == "__main__":
    from bugs.catalogue import BY_NAME

    name, variant, *seeds = sys.argv[1:]
    for seed in map(int, seeds):
        print(json.dumps({"seed": seed, **_explore(BY_NAME[name], variant, seed)}, default=str),
              flush=True)
