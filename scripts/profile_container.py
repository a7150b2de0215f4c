#!/usr/bin/env python3
"""Where a sandbox container's CPU goes: its start, and each kind of request.

    .venv/bin/python scripts/profile_container.py [--reps 20] [--rounds 3] [--json OUT] [--uniform]

In one warm Docker sandbox session (the container as the warm pool starts it: the supervisor
server, its template), measures from the container's cgroup (`cpu.stat`, the CPU every process
in it used, whatever the host's load):

- the start: the server's interpreter and imports, the template's preloads (read once the
  container has been idle long enough for both to be done);
- one request of each kind `locked_counter`'s tests send (a plain call; the lockset, schedule
  and preempt checks), `--reps` times each, as the CPU the container used per request (the
  supervisor, the template's fork, the agent: the student's import, the call, the checks, the
  result, the clean-up) with the supervisor's `phases` (wall, its own clock); with `--uniform`,
  the heaviest requests of a race-check exercise's run, each with and without the lockset check
  that every request of such a run carries (`grader.judge.race_watch`).

Each of `--rounds` rounds uses a new container. Run it with another checkout's interpreter
(`OTHER/.venv/bin/python scripts/profile_container.py`) to profile that checkout's sandbox: the
grader is the one the interpreter imports. A measurement, not a test: it prints the load
average with it; `--json` writes the figures for a committed report.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from profile_grading import _container_cpu

import grader
from grader.agent import codec
from grader.course import Limits
from grader.protocol import Request
from grader.sandbox.docker import DockerBackend

ROOT = Path(grader.__file__).resolve().parents[1]  # the checkout whose grader is profiled
SOLUTION = ROOT / "solutions" / "locked_counter" / "solution.py"
START_SETTLE = 2.0  # seconds the new container is left alone before its start is read


PROBE = {
    "source": (
        "def _probe(module, n):\n"
        "    import threading\n"
        "    c = module.SafeCounter()\n"
        "    ts = [threading.Thread(target=lambda: [c.increment() for _ in range(n)])"
        " for _ in range(4)]\n"
        "    for t in ts:\n        t.start()\n"
        "    for t in ts:\n        t.join()\n"
        "    return c.value\n"
    ),
    "name": "_probe",
}

KINDS = {
    "plain call": dict(kind="call", function="parallel_count", args=[2, 100]),
    "lockset": dict(kind="call", function="parallel_count", args=[4, 50], checks={"lockset": {}}),
    "schedule": dict(kind="run", probe=PROBE, args=[100], checks={"schedule": {"seed": 1}}),
    "preempt": dict(kind="call", function="parallel_count", args=[2, 100], checks={"preempt": {}}),
}
# The requests of a race-check exercise as its runs send them: each carries the lockset check
# (grader.judge.race_watch.UNIFORM), the heaviest of locked_counter's with and without it.
# `--uniform` measures these instead.
_LOCKSET = {"lockset": {}}
UNIFORM_KINDS = {
    "parallel_count(8, 500)": dict(kind="call", function="parallel_count", args=[8, 500]),
    "parallel_count(8, 500) + lockset": dict(
        kind="call", function="parallel_count", args=[8, 500], checks=_LOCKSET
    ),
    "parallel_count(1, 1) + lockset": dict(
        kind="call", function="parallel_count", args=[1, 1], checks=_LOCKSET
    ),
    "schedule 4 x 500": dict(kind="run", probe=PROBE, args=[500], checks={"schedule": {"seed": 1}}),
    "schedule 4 x 500 + lockset": dict(
        kind="run", probe=PROBE, args=[500], checks={"schedule": {"seed": 1}, **_LOCKSET}
    ),
}


def _request(kind: dict, limits: Limits) -> dict:
    args = kind.get("args", [])
    return Request(
        kind=kind["kind"],
        module="solution",
        function=kind.get("function"),
        probe=kind.get("probe"),
        args=codec.encode(list(args)),
        limits={k: v for k, v in vars(limits).items()},
        checks=kind.get("checks") or {},
        timeout=10.0,
    ).to_wire()


def _round(backend: DockerBackend, reps: int) -> dict:
    limits = Limits()
    with tempfile.TemporaryDirectory() as tmp:
        sub = Path(tmp)
        (sub / "solution.py").write_text(SOLUTION.read_text())
        session = backend.open(sub, limits)
        try:
            cid = session.container.id
            link = session.box.connect()
            session.link = link
            time.sleep(START_SETTLE)
            start = _container_cpu(cid)
            per: dict[str, list] = {name: [] for name in KINDS}
            phases: dict[str, list] = {name: [] for name in KINDS}
            for _ in range(reps):
                for name, kind in KINDS.items():
                    before = _container_cpu(cid)
                    reply = session.call(_request(kind, limits))
                    after = _container_cpu(cid)
                    if reply.get("status") != "ok":
                        raise SystemExit(f"{name}: {reply.get('status')} {reply.get('message')}")
                    per[name].append(after - before)
                    phases[name].append(reply.get("phases") or {})
        finally:
            session.close()
    return {"start": start, "per": per, "phases": phases}


def _med(xs):
    return statistics.median(xs) if xs else float("nan")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--reps", type=int, default=20)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--json", type=Path)
    p.add_argument(
        "--uniform",
        action="store_true",
        help="the requests of a race-check exercise's run, each with the lockset check",
    )
    args = p.parse_args()
    if args.uniform:
        KINDS.clear()
        KINDS.update(UNIFORM_KINDS)
    backend = DockerBackend(log=lambda *a, **k: None)
    assert backend.image_id  # built (or found) before anything is timed
    load0 = os.getloadavg()
    rounds = [_round(backend, args.reps) for _ in range(args.rounds)]
    load1 = os.getloadavg()
    commit = subprocess.run(
        ["git", "-C", str(ROOT), "log", "-1", "--format=%h %s"], capture_output=True, text=True
    ).stdout.strip()
    out = {
        "commit": commit,
        "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs",
        "load_before": [round(x, 2) for x in load0],
        "load_after": [round(x, 2) for x in load1],
        "reps": args.reps,
        "start_ms": [round(r["start"] * 1000, 1) for r in rounds],
        "per_request_ms": {},
        "phases_ms": {},
    }
    print(f"{commit}\nload average before {load0}, after {load1}")
    print(f"container start (server + template), CPU ms per round: {out['start_ms']}")
    print(
        f"CPU ms per request (median of {args.reps} x {args.rounds} rounds; each round's median):"
    )
    for name in KINDS:
        allv = [v for r in rounds for v in r["per"][name]]
        each = [round(_med(r["per"][name]) * 1000, 1) for r in rounds]
        keys = sorted({k for r in rounds for ph in r["phases"][name] for k in ph})
        ph = {
            k: round(
                _med(
                    [
                        ph[k]
                        for r in rounds
                        for ph in r["phases"][name]
                        if isinstance(ph.get(k), int | float)
                    ]
                )
                * 1000,
                1,
            )
            for k in keys
        }
        out["per_request_ms"][name] = {"median": round(_med(allv) * 1000, 1), "rounds": each}
        out["phases_ms"][name] = ph
        print(f"  {name:12s} {_med(allv) * 1000:6.1f}  rounds {each}  wall phases {ph}")
    if args.json:
        args.json.write_text(json.dumps(out, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
