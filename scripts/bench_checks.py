#!/usr/bin/env python3
"""Benchmark the parallel-behaviour checks on the planted-bug corpus (tests/bugs/).

    nice -n 10 .venv/bin/python scripts/bench_checks.py [--runs 100] [--slow-runs N]
        [--twin-runs 1000] [--slow-twin-runs 100] [--frontrun-runs N] [--only NAME ...] [--backend local|docker]
        [--seed 0] [--merge JSON] [--stress-twin-runs N] [--estimate]

For every pair, bug and correct twin are each run N times three ways: through our checks (the
sandbox request and expect_* helper an exercise test uses, see tests/bugs/catalogue.py), as a
plain stress test (the same call with no checks, repeated within the wall-clock time our check
took, an invariant on its value), and with frontrun where it applies (as many runs as our
checks). Any non-pass on a twin is a false positive; a fault of the platform or the harness is
an error, never a detection. Detection rate, flags on the twin and the median time of one run
go to docs/bench-checks.md, every run (with its seed) to docs/bench-checks.json. Run i uses
seed `--seed + i`. Pairs slow by design (their runs start other interpreters: MPI, Celery, pp,
spawned processes; `Pair.is_slow` in the catalogue, never the load of the moment) may be given
fewer runs with --slow-runs, and their twins --slow-twin-runs runs (at least as many as the
bug); the twins of the others get --twin-runs runs. The table says how many each pair got.
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
from bugs.harness import (  # noqa: E402
    FRONTRUN_ATTEMPTS,
    FRONTRUN_BUDGET,
    FRONTRUN_MAX_OPS,
    FRONTRUN_SCALES,
    check_once,
    frontrun_runs,
    open_student,
    stress_once,
)

GOAL = {"detect": 0.99, "twin_runs": 100, "cheap_twin_runs": 1000, "median": 2.0}


def measure(
    pair,
    runs: int,
    slow_runs: int,
    twin_runs: int,
    slow_twin_runs: int,
    frontrun_runs_n: int,
    base_seed: int,
    backend: str,
    log,
    stress_twin_runs: int | None = None,
    frontrun_twin_runs: int | None = None,
) -> dict:
    """All runs of one pair: {"checks"|"stress"|"frontrun": {"bug"|"twin": [outcome...]}}.
    Plain stress gets, run by run, the wall-clock time our check took on the same variant. The
    twin of a cheap pair is run `twin_runs` times, the twin of a slow one (`Pair.is_slow`)
    `slow_twin_runs` times (never fewer than the bug). Plain stress runs on the twin
    `stress_twin_runs` times (default: as many as on the bug): one plain call of its larger
    sizes often takes several times our check's run, and its false positives are not the goal.
    One sandbox session (one container, one warm template) serves every run of a variant, each
    run a fresh process forked from the template."""
    result = {
        "name": pair.name,
        "runs": runs,
        "twin_runs": runs,
        "checks": {},
        "stress": {},
        "frontrun": {},
        "measured": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "commit": source_commit(),
        "backend": backend,
        "load_at_start": loadavg(),
    }
    for variant in ("bug", "twin"):
        with open_student(pair, variant, backend) as student:
            checks = []
            if pair.grade is not None:
                checks = [check_once(pair, student, base_seed, variant)]
                if variant == "bug":
                    slow = result["slow"] = pair.is_slow
                    result["runs"] = min(runs, slow_runs) if slow else runs
                    result["twin_runs"] = (
                        max(result["runs"], slow_twin_runs) if slow else max(runs, twin_runs)
                    )
                n = result["runs" if variant == "bug" else "twin_runs"]
                checks += [check_once(pair, student, base_seed + i, variant) for i in range(1, n)]
                result["checks"][variant] = [dataclasses.asdict(o) for o in checks]
            budgets = [o.seconds for o in checks] or [0.0] * result["runs"]
            if variant == "twin":  # plain stress's false positives: as many runs as on the bug
                budgets = budgets[: stress_twin_runs or result["runs"]]
            stress = [stress_once(pair, student, variant, budget) for budget in budgets]
            result["stress"][variant] = [dataclasses.asdict(o) for o in stress]
            for method in ("checks", "stress"):
                if variant in result[method]:
                    log(
                        f"{pair.name} {variant} {method}: "
                        f"{sum(o['found'] for o in result[method][variant])}"
                        f"/{len(result[method][variant])} flagged, "
                        f"{sum(o['error'] for o in result[method][variant])} errors, "
                        f"{sum(o['not_run'] for o in result[method][variant])} not run"
                    )
        if pair.frontrun is not None and frontrun_runs_n:
            n = min(frontrun_runs_n, result["runs"])
            if variant == "twin" and frontrun_twin_runs is not None:
                n = min(n, frontrun_twin_runs)  # a correct twin uses frontrun's whole budget
            seeds = [base_seed + i for i in range(n)]
            result["frontrun"][variant] = [
                dataclasses.asdict(o) for o in frontrun_runs(pair, variant, seeds)
            ]
            log(
                f"{pair.name} {variant} frontrun: "
                f"{sum(o['found'] for o in result['frontrun'][variant])}/{len(seeds)} flagged"
            )
    return result


# ---------------------------------------------------------------- the table


def summary(outcomes: list[dict] | None) -> dict | None:
    if not outcomes:
        return None
    verdicts = {}
    for o in outcomes:
        verdicts[o["verdict"]] = verdicts.get(o["verdict"], 0) + 1
    found = sum(o["found"] for o in outcomes)
    errors = sum(o.get("error", False) for o in outcomes)
    not_run = [o for o in outcomes if o.get("not_run")]
    return {
        "n": len(outcomes),
        "found": found,
        "errors": errors,
        "not_run": len(not_run),
        "why_not_run": not_run[0]["message"] if not_run else "",
        "limited": sum(o["verdict"].endswith("at its largest budget") for o in outcomes),
        "rate": found / len(outcomes),
        "median": statistics.median(o["seconds"] for o in outcomes),
        "verdicts": verdicts,
        "repeats": statistics.median(o.get("repeats", 1) for o in outcomes),
    }


def cell(bug: dict | None, twin: dict | None, stress: bool = False) -> str:
    """'found/runs · FP flagged/runs (verdicts) · median s'. A harness or platform error is
    shown apart (neither a find nor a pass); runs that could not happen here (no GPU) are
    'not run', never a detection or a pass."""
    if bug is None:
        return "n/a"
    if bug["not_run"] == bug["n"] and (twin is None or twin["not_run"] == twin["n"]):
        return f"{bug['why_not_run']} ({bug['n']} + {twin['n'] if twin else 0} runs)"
    text = f"{bug['found']}/{bug['n']}"
    if bug["errors"]:
        text += f" ({bug['errors']} error{'s' if bug['errors'] > 1 else ''}, not counted found)"
    if bug["not_run"]:
        text += f" ({bug['not_run']} not run)"
    if twin is None:
        fp = "not run"
    else:
        fp = f"{twin['found']}/{twin['n']}"
        flagged = sorted(v for v in twin["verdicts"] if v != "passed")
        if flagged:
            fp += " (" + ", ".join(f"{twin['verdicts'][v]} {v}" for v in flagged) + ")"
        if twin["errors"]:
            fp += f", {twin['errors']} error{'s' if twin['errors'] > 1 else ''} on the twin"
    text += f" · FP {fp} · {bug['median']:.2f} s"
    if stress:
        text += f" · {bug['repeats']:g} call(s) per run"
    return text


def misses(checks_bug, checks_twin, twin_runs_goal: int) -> list[str]:
    """The goals a pair's checks missed, in measured numbers only."""
    if checks_bug is None:
        return []
    out = []
    if checks_bug["not_run"] or (checks_twin and checks_twin["not_run"]):
        return [checks_bug["why_not_run"] or checks_twin["why_not_run"]]
    seen = ", ".join(f"{k} {v}" for k, v in sorted(checks_bug["verdicts"].items()))
    if checks_bug["rate"] < GOAL["detect"]:
        out.append(f"detection {checks_bug['rate']:.0%} < 99% (verdicts: {seen})")
    if checks_twin is None:
        out.append("the twin was not run")
    elif checks_twin["found"] or checks_twin["errors"]:
        twin_seen = ", ".join(f"{k} {v}" for k, v in sorted(checks_twin["verdicts"].items()))
        out.append(
            f"the twin was not passed in {checks_twin['found'] + checks_twin['errors']} "
            f"of {checks_twin['n']} runs ({twin_seen})"
        )
    elif checks_twin["n"] < twin_runs_goal:
        out.append(
            f"twin run {checks_twin['n']} times, fewer than the {twin_runs_goal} the goal asks for"
        )
    worst = max(checks_bug["median"], checks_twin["median"] if checks_twin else 0)
    if worst > GOAL["median"]:
        out.append(f"median {worst:.2f} s > {GOAL['median']:g} s (verdicts on the bug: {seen})")
    return out


def twin_goal(pair) -> int:
    """Runs of the twin with no flag the goal asks for: more where one run is cheap (the pair
    is not slow by design, whatever an earlier record measured)."""
    return GOAL["twin_runs"] if pair.is_slow else GOAL["cheap_twin_runs"]


def source_commit() -> str:
    """The commit measured, and whether grader/, tests/bugs/ or scripts/ differed from it."""
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
    ).stdout.strip()
    dirty = subprocess.run(
        ["git", "status", "--porcelain", "grader", "tests/bugs", "scripts"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    ).stdout.strip()
    return commit + (
        " with uncommitted changes under grader/, tests/bugs/ or scripts/" if dirty else ""
    )


def render(results: list[dict], args, started: str, seconds: float, load_before: str) -> str:
    commit = source_commit()
    runs = sorted({r["runs"] for r in results})
    lines = [
        "# Planted-bug benchmark of the parallel-behaviour checks",
        "",
        f"Generated by `{' '.join(['scripts/bench_checks.py', *args.argv])}` on {started} in "
        f"{seconds / 60:.0f} min; git commit `{commit}`; {platform.node()} ({platform.machine()}, "
        f"{os.cpu_count()} cores, Python {platform.python_version()}), load average "
        f"{load_before} at the start, {loadavg()} at the end. Backend: {args.backend}. Do not "
        "edit by hand: run the script again.",
        "",
        "Each cell: **flagged runs on the bug / runs** · **FP**: runs in which the correct twin "
        "got anything but a pass / runs, with the verdicts it got · median seconds of one run on "
        "the bug. *Our checks*: the request and `expect_*` helper an exercise test uses; a bug "
        "counts as found only with the verdict listed. *Plain stress*: the same call with no "
        "checks and sizes of its own (see `tests/bugs/catalogue.py`), repeated within the "
        "wall-clock time our check took on the same code in the same run, at least once "
        "(calls: the median number of calls per run), on the twin in "
        f"{args.stress_twin_runs or 'as many runs as on the bug'}"
        f"{' runs' if args.stress_twin_runs else ''}; it flags a hang, an exception raised in the student's code "
        'or a broken invariant. *frontrun* (`explore(strategy="random", seed=s, '
        f"max_attempts={FRONTRUN_ATTEMPTS}, max_ops={FRONTRUN_MAX_OPS}, "
        f"total_timeout={FRONTRUN_BUDGET:g})`): flags a failed "
        "exploration, and on the twin an inconclusive one ("
        + (
            f"on the twin in at most {args.frontrun_twin_runs} runs: a correct twin uses "
            "frontrun's whole budget in every run"
            if args.frontrun_twin_runs
            else "on the twin in as many runs as on the bug"
        )
        + "); on the bug, an exploration that "
        "finds nothing and ends at its budget (every attempt used, out of time or "
        "inconclusive) is run again with all three limits "
        f"{' and '.join(f'{s}' for s in FRONTRUN_SCALES[1:])} times larger. A fault of the platform or of the "
        "harness (a sandbox fault, an exception with no frame of the student's code, frontrun "
        "raising or not answering) is an error: it is neither a find nor a pass and is shown. "
        f"Run i uses seed {args.seed} + i (every run is in `{args.out.with_suffix('.json').name}`).",
        "",
        f"Runs per pair: {', '.join(map(str, runs))} (the runs column gives each pair's count; "
        f"the script was asked for {args.runs}, and {args.slow_runs} for pairs slow by design "
        "(their runs start other interpreters: MPI, Celery, pp, spawned processes), their twins "
        f"{args.slow_twin_runs}; the twins of the other "
        f"pairs: {args.twin_runs}). Goals: "
        f"detection >= {GOAL['detect']:.0%}, no flagged twin in {GOAL['cheap_twin_runs']} runs "
        f"on the other pairs and in {GOAL['twin_runs']} runs on the slow ones, median (bug and twin) <= {GOAL['median']:g} s.",
        *merged_note(results, args),
    ]
    table = [
        "| pair | bug class | our check | runs | our checks | plain stress | frontrun |",
        "|---|---|---|---|---|---|---|",
    ]
    notes = []
    measured = {r["name"] for r in results}
    absent = [f"`{p.name}`" for p in PAIRS if p.name not in measured]
    totals = {"detected": 0, "pairs": 0, "fp": 0, "twin_errors": 0, "met": 0, "not_run": 0}
    for r in results:
        pair = next(p for p in PAIRS if p.name == r["name"])
        cb, ct = summary(r["checks"].get("bug")), summary(r["checks"].get("twin"))
        sb, st = summary(r["stress"].get("bug")), summary(r["stress"].get("twin"))
        fb, ft = summary(r["frontrun"].get("bug")), summary(r["frontrun"].get("twin"))
        ours = cell(cb, ct) if pair.grade else "check not available yet"
        frontrun = cell(fb, ft) if pair.frontrun else "n/a"
        count = f"{r['runs']}" + (
            f" (twin {r['twin_runs']})" if r.get("twin_runs", r["runs"]) != r["runs"] else ""
        )
        table.append(
            f"| `{pair.name}` | {pair.bug_class} | {pair.how} → "
            f"{'/'.join(pair.detects)} | {count} | {ours} | "
            f"{cell(sb, st, stress=True)} | {frontrun} |"
        )
        problems = misses(cb, ct, twin_goal(pair))
        if pair.grade and (cb["not_run"] or (ct and ct["not_run"])):
            totals["not_run"] += 1
        elif pair.grade:
            totals["pairs"] += 1
            totals["detected"] += cb["rate"] >= GOAL["detect"]
            totals["fp"] += bool(ct is None or ct["found"])
            totals["twin_errors"] += bool(ct and ct["errors"])
            totals["met"] += not problems
        if pair.unavailable:
            notes.append(f"- `{pair.name}`: {pair.unavailable}.")
        if problems:
            notes.append(f"- `{pair.name}` misses a goal: {'; '.join(problems)}.")
        if sb is not None and sb["found"] == 0 and not sb["not_run"]:
            notes.append(
                f"- `{pair.name}`: plain stress flagged nothing in {sb['n']} runs "
                f"(median {sb['repeats']:g} calls of {pair.stress.describe!r} per run)."
            )
        if not pair.frontrun:
            notes.append(
                f"- `{pair.name}`: frontrun not run; the reason given in the catalogue (not "
                f"measured): {pair.frontrun_na}."
            )
        elif fb and fb["limited"]:
            notes.append(
                f"- `{pair.name}`: frontrun found nothing and still ended at its budget in "
                f"{fb['limited']} of {fb['n']} runs on the bug, with every budget "
                f"{FRONTRUN_SCALES[-1]} times the first."
            )
        elif ft and ft["found"]:
            first = next(o for o in r["frontrun"]["twin"] if o["found"])
            notes.append(
                f"- `{pair.name}`: frontrun flagged the correct twin ({ft['found']}/"
                f"{ft['n']}; e.g. {first['message'][:160]!r})."
            )
        if fb and (fb["rate"] < 1 or fb["errors"]):
            seen = ", ".join(f"{k} {v}" for k, v in sorted(fb["verdicts"].items()))
            notes.append(f"- `{pair.name}`: frontrun on the bug: {seen}.")
    lines += [
        "",
        f"**Summary**: our checks reached >= {GOAL['detect']:.0%} detection on "
        f"{totals['detected']} of {totals['pairs']} pairs run with a check; the correct twin "
        f"was flagged (a false positive) in at least one run on {totals['fp']} pairs, and hit "
        f"a harness or platform error on {totals['twin_errors']}; {totals['met']} of "
        f"{totals['pairs']} pairs met every goal; {totals['not_run']} pair(s) could not run on "
        f"this machine (not run, neither found nor passed); "
        f"{len(results) - totals['pairs'] - totals['not_run']} pair(s) have no check yet."
        + (
            f" **{len(absent)} of the catalogue's {len(PAIRS)} pairs are not in this table** "
            f"(not measured by this run or the runs it merges): {', '.join(absent)}."
            if absent
            else ""
        ),
        "",
        *table,
    ]
    return "\n".join(lines + ["", "## Notes (goals missed, n/a, not available)", "", *notes, ""])


def merged_note(results: list[dict], args) -> list[str]:
    """With --merge: which pairs this run measured, and for the others when, at which commit,
    on which backend and with which run counts they were measured (their own records)."""
    if not args.merge:
        return []
    now = [f"`{r['name']}`" for r in results if r["name"] in args.only]
    groups: dict[tuple, list[str]] = {}
    for r in results:
        if r["name"] not in args.only:
            key = (r["measured"][:10], r.get("commit", "not recorded"), r.get("backend", "?"))
            groups.setdefault(key, []).append(r["name"])
    earlier = [
        f"{len(names)} on {day} (commit {commit}, {backend} backend)"
        for (day, commit, backend), names in sorted(groups.items())
    ]
    return [
        "",
        f"Measured in this run: {', '.join(now)}. The other pairs are kept from earlier runs: "
        f"{'; '.join(earlier)}. Each pair's own record in the JSON gives its date, commit, "
        "backend and load; their runs column gives their counts, and their times were taken "
        "under other loads.",
    ]


def estimate(pairs, args, log) -> str:
    """Each pair measured once (bug and twin: our check, plain stress, frontrun if asked), and
    the time the full run with these arguments would take: each cost times its run count, plus
    the pair's fixed cost (sessions opened, frontrun's interpreter). Nothing is written to docs/."""
    rows, total = [], 0.0
    for pair in pairs:
        start = time.perf_counter()
        r = measure(pair, 1, 1, 1, 1, min(args.frontrun_runs, 1), args.seed, args.backend, log)
        wall = time.perf_counter() - start
        one = {
            (method, variant): r[method][variant][0]["seconds"]
            for method in ("checks", "stress", "frontrun")
            for variant in ("bug", "twin")
            if r[method].get(variant)
        }
        runs = min(args.runs, args.slow_runs) if pair.is_slow else args.runs
        twin = max(runs, args.slow_twin_runs) if pair.is_slow else max(args.runs, args.twin_runs)
        counts = {
            ("checks", "bug"): runs,
            ("checks", "twin"): twin,
            ("stress", "bug"): runs,
            ("stress", "twin"): args.stress_twin_runs or runs,
            ("frontrun", "bug"): min(args.frontrun_runs, runs),
            ("frontrun", "twin"): min(args.frontrun_runs, runs, args.frontrun_twin_runs or runs),
        }
        fixed = max(0.0, wall - sum(one.values()))
        seconds = fixed + sum(one[k] * counts[k] for k in one)
        total += seconds
        rows.append(
            row := f"| `{pair.name}` | {'slow' if pair.is_slow else 'cheap'} | {runs} / {twin} | "
            + " | ".join(f"{one[k]:.2f}" if k in one else "-" for k in counts)
            + f" | {fixed:.1f} | {seconds / 60:.1f} |"
        )
        log(row)
    return "\n".join(
        [
            f"Estimate for `scripts/bench_checks.py {' '.join(a for a in args.argv if a != '--estimate')}`"
            f" ({args.backend} backend, {os.cpu_count()} cores, load average {loadavg()} at the "
            "end): each pair measured once, each cost times its run count.",
            "",
            "| pair | kind | runs bug / twin | checks bug s | checks twin s | stress bug s | "
            "stress twin s | frontrun bug s | frontrun twin s | fixed s | projected min |",
            "|---|---|---|---|---|---|---|---|---|---|---|",
            *rows,
            "",
            f"Projected total: {total / 3600:.1f} h for {len(pairs)} pairs.",
        ]
    )


def loadavg() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument(
        "--slow-runs",
        type=int,
        default=None,
        help="runs for pairs whose one run takes over a second (default: --runs)",
    )
    parser.add_argument(
        "--twin-runs",
        type=int,
        default=1000,
        help="runs of the correct twin of a cheap pair (default: 1000)",
    )
    parser.add_argument(
        "--slow-twin-runs",
        type=int,
        default=GOAL["twin_runs"],
        help="runs of the correct twin of a slow pair (default: %(default)s)",
    )
    parser.add_argument("--frontrun-runs", type=int, default=None, help="default: --runs")
    parser.add_argument(
        "--frontrun-twin-runs",
        type=int,
        default=None,
        help="frontrun runs on each twin (default: as many as on the bug); a correct twin "
        "spends frontrun's whole time budget in every run",
    )
    parser.add_argument(
        "--stress-twin-runs",
        type=int,
        default=None,
        help="plain stress runs on each twin (default: as many as on the pair's bug)",
    )
    parser.add_argument("--only", nargs="*", default=None)
    parser.add_argument("--backend", choices=("local", "docker"), default="local")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "bench-checks.md")
    parser.add_argument(
        "--merge",
        type=Path,
        default=None,
        metavar="JSON",
        help="take the pairs not measured now (not in --only) from an earlier "
        "run's JSON, so one pair can be re-measured into a full table",
    )
    parser.add_argument(
        "--estimate",
        action="store_true",
        help="run each pair once and print how long the run with these arguments would take "
        "(writes nothing)",
    )
    args = parser.parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)
    args.slow_runs = args.runs if args.slow_runs is None else args.slow_runs
    args.frontrun_runs = args.runs if args.frontrun_runs is None else args.frontrun_runs
    pairs = [p for p in PAIRS if not args.only or p.name in args.only]
    started, t0 = dt.datetime.now().astimezone().isoformat(timespec="seconds"), time.time()
    load_before = loadavg()
    log = lambda text: print(f"[{time.time() - t0:6.0f} s] {text}", flush=True)  # noqa: E731
    if args.estimate:
        print(estimate(pairs, args, log))
        return 0
    earlier = {}
    if args.merge:
        if not args.only:
            parser.error("--merge re-measures the pairs named by --only")
        old = json.loads(args.merge.read_text())
        # records written before they carried their own backend come from one run: the file's
        earlier = {
            r["name"]: {"measured": old["started"], "backend": old.get("backend", "?"), **r}
            for r in old["pairs"]
        }
    results = [
        measure(
            p,
            args.runs,
            args.slow_runs,
            args.twin_runs,
            args.slow_twin_runs,
            args.frontrun_runs,
            args.seed,
            args.backend,
            log,
            args.stress_twin_runs,
            args.frontrun_twin_runs,
        )
        if p in pairs
        else earlier[p.name]
        for p in PAIRS
        if p in pairs or p.name in earlier
    ]
    args.out.write_text(render(results, args, started, time.time() - t0, load_before))
    args.out.with_suffix(".json").write_text(
        json.dumps(
            {"started": started, "backend": args.backend, "base_seed": args.seed, "pairs": results},
            indent=1,
            default=str,
        )
    )
    log(f"wrote {args.out} and {args.out.with_suffix('.json')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
