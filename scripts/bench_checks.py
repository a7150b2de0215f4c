#!/usr/bin/env python3
"""Benchmark the parallel-behaviour checks on the planted-bug corpus (tests/bugs/).

    nice -n 10 .venv/bin/python scripts/bench_checks.py [--runs 100] [--slow-runs N]
        [--frontrun-runs N] [--only NAME ...] [--backend local|docker] [--seed 0]

For every pair, bug and correct twin are each run N times three ways: through our checks (the
sandbox request and expect_* helper an exercise test uses, see tests/bugs/catalogue.py), as a
plain stress test (the same call with no checks, an invariant on its value), and with frontrun
where it applies. Detection rate on the bug, false-positive rate on the twin and the median
time of one run are written to docs/bench-checks.md, every run (with its seed) to
docs/bench-checks.json. Run i uses seed `--seed + i`. Pairs whose one run takes over a second
(hang-based detection, MPI) may be given fewer runs with --slow-runs; the table says so.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from bugs.catalogue import PAIRS  # noqa: E402
from bugs.harness import check_once, frontrun_runs, open_student, stress_once  # noqa: E402

SLOW_SECONDS = 1.0  # a pair whose first bug run took longer than this gets --slow-runs runs
GOAL = {"detect": 0.99, "fp": 0.0, "median": 2.0}


def measure(pair, runs: int, slow_runs: int, frontrun_runs_n: int, base_seed: int,
            backend: str, log) -> dict:
    """All runs of one pair: {"checks"|"stress"|"frontrun": {"bug"|"twin": [outcome...]}}."""
    result = {"name": pair.name, "runs": runs, "checks": {}, "stress": {}, "frontrun": {},
              "measured": dt.datetime.now().astimezone().isoformat(timespec="seconds")}
    for variant in ("bug", "twin"):
        with open_student(pair, variant, backend) as student:
            n = runs
            for method, once in (("checks", lambda i: check_once(pair, student, base_seed + i)),
                                 ("stress", lambda i: stress_once(pair, student))):
                if method == "checks" and pair.grade is None:
                    continue
                outcomes = [once(0)]
                if outcomes[0].seconds > SLOW_SECONDS and slow_runs < n:
                    n = slow_runs
                    result["runs"] = min(result["runs"], slow_runs)
                outcomes += [once(i) for i in range(1, n)]
                result[method][variant] = [dataclasses.asdict(o) for o in outcomes]
                log(f"{pair.name} {variant} {method}: {sum(o.found for o in outcomes)}/{len(outcomes)}")
        if pair.frontrun is not None and frontrun_runs_n:
            seeds = [base_seed + i for i in range(frontrun_runs_n)]
            result["frontrun"][variant] = [dataclasses.asdict(o) for o in frontrun_runs(pair, variant, seeds)]
            log(f"{pair.name} {variant} frontrun: "
                f"{sum(o['found'] for o in result['frontrun'][variant])}/{len(seeds)}")
    return result


# ---------------------------------------------------------------- the table

def summary(outcomes: list[dict] | None) -> dict | None:
    if not outcomes:
        return None
    found = sum(o["found"] for o in outcomes)
    verdicts = {}
    for o in outcomes:
        verdicts[o["verdict"]] = verdicts.get(o["verdict"], 0) + 1
    return {"n": len(outcomes), "found": found, "rate": found / len(outcomes),
            "median": statistics.median(o["seconds"] for o in outcomes), "verdicts": verdicts}


def cell(bug: dict | None, twin: dict | None, ever: bool = False) -> str:
    if bug is None:
        return "n/a"
    text = f"{bug['found']}/{bug['n']}"
    if ever:
        text += " (found)" if bug["found"] else " (never)"
    fp = f"{twin['found']}/{twin['n']}" if twin else "?"
    odd = sorted(v for v in (twin or {}).get("verdicts", {}) if v in ("inconclusive", "hung",
                                                                        "frontrun-error"))
    if odd:
        fp += " (" + ", ".join(f"{twin['verdicts'][v]} {v}" for v in odd) + ")"
    return f"{text} · FP {fp} · {bug['median']:.2f} s"


def misses(pair, checks_bug, checks_twin) -> list[str]:
    if checks_bug is None:
        return []
    out = []
    if checks_bug["rate"] < GOAL["detect"]:
        seen = ", ".join(f"{k} {v}" for k, v in sorted(checks_bug["verdicts"].items()))
        out.append(f"detection {checks_bug['rate']:.0%} < 99% (verdicts: {seen})")
    if checks_twin and checks_twin["found"]:
        out.append(f"{checks_twin['found']} false positive(s) on the twin")
    worst = max(checks_bug["median"], checks_twin["median"] if checks_twin else 0)
    if worst > GOAL["median"]:
        out.append(f"median {worst:.2f} s > 2 s")
    return out


REASONS = {  # why a goal is missed, where the cause is known
    "lost_wakeup_event": "the bug shows only as a hang, so a detection costs the 2 s timeout",
    "mpi_send_send": "the bug shows (in strict mode) only as a hang: a detection costs the 2 s "
                     "timeout plus mpiexec start and clean-up",
    "mpi_recv_recv": "a hang: the 2 s timeout plus mpiexec start and clean-up",
    "mpi_barrier_skipped": "a hang: the 2 s timeout plus mpiexec start and clean-up",
}


def render(results: list[dict], args, started: str, seconds: float, load_before: str) -> str:
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                            text=True).stdout.strip()
    load = loadavg()
    dirty = subprocess.run(["git", "status", "--porcelain", "grader"], cwd=ROOT,
                           capture_output=True, text=True).stdout.strip()
    if dirty:
        commit += " plus uncommitted changes under grader/ (other engineers' work in progress)"
    lines = [
        "# Planted-bug benchmark of the parallel-behaviour checks",
        "",
        f"Generated by `scripts/bench_checks.py` on {started} in {seconds / 60:.0f} min; git commit "
        f"`{commit}`; {platform.node()} ({platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}), load average {load_before} at the start, {load} at the "
        f"end. **Backend: {args.backend}** (the checks run "
        "the same in the Docker sandbox; a container start would only add its ~0.5 s to every "
        "time). Do not edit by hand: run the script again.",
        "",
        "Each cell: **detections on the bug / runs** · **FP**: runs that flagged the correct "
        "twin / runs · median seconds of one run on the bug (one sandbox request; for frontrun, "
        "one `explore()` call). *Our checks*: the request and `expect_*` helper an exercise test "
        "uses, detected when it gives the listed verdict. *Plain stress*: the same call without "
        "checks, repeated; found when it hangs, raises or breaks its invariant; (found)/(never) "
        "says whether all its repetitions together found the bug at least once. *frontrun* "
        f"(PyPI 0.7.0, `explore(strategy=\"random\", seed=s, max_attempts=200)`): found when its "
        "exploration fails; an inconclusive exploration is never a pass and is listed. Run i "
        f"uses seed {args.seed} + i (every seed is in `docs/bench-checks.json`).",
        "",
        f"Runs per pair: {args.runs} for our checks and plain stress, {args.slow_runs} where one "
        f"run takes over {SLOW_SECONDS:.0f} s (hang-based detections), {args.frontrun_runs} for "
        "frontrun; the runs column gives each pair's count."
        + (" **Below the 100 runs the issue asks for** for some pairs: the time budget of the "
           "session that measured them did not allow 100 (the script's default is 100)."
           if min(r["runs"] for r in results) < 100 else ""),
        *merged_note(results, args),
        "",
        "| pair | bug class | our check | runs | our checks | plain stress | frontrun |",
        "|---|---|---|---|---|---|---|",
    ]
    notes = []
    totals = {"detected": 0, "pairs": 0, "fp": 0}
    for r in results:
        pair = next(p for p in PAIRS if p.name == r["name"])
        cb, ct = summary(r["checks"].get("bug")), summary(r["checks"].get("twin"))
        sb, st = summary(r["stress"].get("bug")), summary(r["stress"].get("twin"))
        fb, ft = summary(r["frontrun"].get("bug")), summary(r["frontrun"].get("twin"))
        ours = cell(cb, ct) if pair.grade else "check not available yet"
        frontrun = cell(fb, ft) if pair.frontrun else "n/a"
        lines.append(f"| `{pair.name}` | {pair.bug_class} | {pair.how} → {'/'.join(pair.detects)} "
                     f"| {r['runs']} | {ours} | {cell(sb, st, ever=True)} | {frontrun} |")
        if pair.grade:
            totals["pairs"] += 1
            totals["detected"] += cb["rate"] >= GOAL["detect"]
            totals["fp"] += bool(ct and ct["found"])
        problems = misses(pair, cb, ct)
        if pair.unavailable:
            notes.append(f"- `{pair.name}`: {pair.unavailable}.")
        if problems:
            reason = REASONS.get(pair.name, "")
            notes.append(f"- `{pair.name}` misses a goal: {'; '.join(problems)}."
                         + (f" Why: {reason}." if reason else ""))
        if not pair.frontrun:
            notes.append(f"- `{pair.name}`: frontrun n/a: {pair.frontrun_na}.")
        elif ft and ft["found"]:
            notes.append(f"- `{pair.name}`: frontrun flagged the correct twin ({ft['found']}/"
                         f"{ft['n']}; e.g. {r['frontrun']['twin'][0]['message'][:160]!r}).")
        elif fb and fb["rate"] < 1:
            seen = ", ".join(f"{k} {v}" for k, v in sorted(fb["verdicts"].items()))
            notes.append(f"- `{pair.name}`: frontrun did not find the bug every time ({seen}).")
    lines[lines.index("| pair | bug class | our check | runs | our checks | plain stress | frontrun |")
          - 1:0] = [
        "",
        f"**Summary**: our checks reached >= 99% detection on {totals['detected']} of "
        f"{totals['pairs']} pairs with a check, with false positives on {totals['fp']} twins; "
        f"{len(results) - totals['pairs']} pair(s) have no check yet. Goals: detection >= 99%, "
        "FP 0, median <= 2 s.",
    ]
    return "\n".join(lines + ["", "## Notes (goals missed, n/a, not available)", "", *notes, ""])


def merged_note(results: list[dict], args) -> list[str]:
    """With --merge: which pairs this run measured, and when the others were."""
    if not args.merge:
        return []
    now = [f"`{r['name']}`" for r in results if r["name"] in args.only]
    earlier = sorted({r["measured"][:10] for r in results if r["name"] not in args.only})
    return ["", f"Measured in this run: {', '.join(now)}; the other pairs are kept from earlier "
                f"runs ({', '.join(earlier)}; each pair's date is `measured` in the JSON), so "
                "their times were taken under other loads."]


def loadavg() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--slow-runs", type=int, default=None,
                        help="runs for pairs whose one run takes over a second (default: --runs)")
    parser.add_argument("--frontrun-runs", type=int, default=None, help="default: --runs")
    parser.add_argument("--only", nargs="*", default=None)
    parser.add_argument("--backend", choices=("local", "docker"), default="local")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "bench-checks.md")
    parser.add_argument("--merge", type=Path, default=None, metavar="JSON",
                        help="take the pairs not measured now (not in --only) from an earlier "
                             "run's JSON, so one pair can be re-measured into a full table")
    args = parser.parse_args(argv)
    args.slow_runs = args.runs if args.slow_runs is None else args.slow_runs
    args.frontrun_runs = args.runs if args.frontrun_runs is None else args.frontrun_runs
    pairs = [p for p in PAIRS if not args.only or p.name in args.only]
    started, t0 = dt.datetime.now().astimezone().isoformat(timespec="seconds"), time.time()
    load_before = loadavg()
    log = lambda text: print(f"[{time.time() - t0:6.0f} s] {text}", flush=True)  # noqa: E731
    earlier = {}
    if args.merge:
        if not args.only:
            parser.error("--merge re-measures the pairs named by --only")
        old = json.loads(args.merge.read_text())
        earlier = {r["name"]: {"measured": old["started"], **r} for r in old["pairs"]}
    results = [measure(p, args.runs, args.slow_runs, args.frontrun_runs, args.seed, args.backend,
                       log) if p in pairs else earlier[p.name]
               for p in PAIRS if p in pairs or p.name in earlier]
    args.out.write_text(render(results, args, started, time.time() - t0, load_before))
    args.out.with_suffix(".json").write_text(json.dumps(
        {"started": started, "backend": args.backend, "base_seed": args.seed, "pairs": results},
        indent=1, default=str))
    log(f"wrote {args.out} and {args.out.with_suffix('.json')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
