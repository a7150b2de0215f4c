#!/usr/bin/env python3
"""CPU per warm grading on two trees, measured alternately: where a change's saving lands.

    .venv/bin/python scripts/bench_grading_cpu.py --base DIR [--runs 3] [--reps 6]
        [--exercise locked_counter] [--out docs/bench-grading-cpu] [--requests REPS] [--render]

Runs this checkout's `scripts/profile_grading.py --json` `--runs` times on each tree, in turn
(base, this tree, base, this tree...), each with its own grader first on PYTHONPATH (so its own
judge, agent and checks; its own sandbox image, whose tag hashes its container side), and writes
OUT.md (the CPU seconds per warm grading of each process group: this grading process, the
judge's fork server and its runs, the Docker engine's daemons, the container's cgroup, its
containerd shim; one column per run) and OUT.json (every figure). CPU seconds, not wall time:
on a shared machine the figure that other work changes least. `DIR` is another checkout of the
project (e.g. `git worktree add --detach /tmp/base main`); the course (exercises, reference
solution) is this checkout's for both. With `--requests REPS`, each run is followed by
`scripts/profile_container.py --uniform` on the same tree (CPU per request in the container).
A measurement, not a test.
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

ROOT = Path(__file__).resolve().parents[1]
PROFILE = ROOT / "scripts" / "profile_grading.py"
PER_REQUEST = ROOT / "scripts" / "profile_container.py"


def _commit(tree: Path) -> str:
    out = subprocess.run(
        ["git", "-C", str(tree), "log", "-1", "--format=%h %s"], capture_output=True, text=True
    )
    dirty = subprocess.run(
        ["git", "-C", str(tree), "status", "--porcelain", "--untracked-files=no"],
        capture_output=True,
        text=True,
    ).stdout.strip()
    return out.stdout.strip()[:90] + (" (with uncommitted changes)" if dirty else "")


def _profile(tree: Path, cmd: list[str], out: Path) -> dict:
    """Run a profiler script (`cmd`) on `tree`'s grader; its `--json` figures."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tree), str(ROOT / "scripts")])}
    load = os.getloadavg()
    done = subprocess.run(
        [sys.executable, *cmd, "--json", str(out)],
        env=env,
        cwd=tempfile.gettempdir(),
        capture_output=True,
    )
    if done.returncode != 0:
        raise SystemExit(f"{cmd[0]} on {tree} failed:\n{done.stderr.decode()[-3000:]}")
    got = json.loads(out.read_text())
    got["load_before"] = [round(x, 2) for x in load]
    return got


def _ms(x: float) -> str:
    return f"{x * 1000:.0f}"


def _report(data: dict) -> str:
    trees = data["trees"]
    groups = list(trees["base"]["runs"][0]["cpu_per_warm_grading_s"])
    lines = [
        f"# CPU per warm `{data['exercise']}` grading, before and after",
        "",
        f"Measured by `scripts/bench_grading_cpu.py --base {data['base_dir']} --runs "
        f"{data['runs']} --reps {data['reps']} --exercise {data['exercise']} --out "
        f"{data['out']}"
        + (f" --requests {data['request_reps']}" if data.get("request_reps") else "")
        + f"` on {data['when']} (do not edit: rerun the script).",
        "",
        f"Machine: {data['machine']}. Each run grades the reference solution {data['reps']} times "
        "in one process (`scripts/profile_grading.py`: the judge's fork server and the warm "
        "container pool as in `grader serve`); the first grading, which starts them, is left "
        "out, and each figure is CPU seconds over the warm gradings (the pool's refills "
        "included) divided by their number. Runs alternate between the trees. CPU, not wall "
        "time: the machine is shared, and the load average (given per run) changes CPU "
        "figures far less than wall times. The Docker engine's daemons serve every container "
        "on the machine: their figure includes other work's containers started meanwhile; the "
        "container's cgroup and the judge's processes are this grading's alone.",
        "",
        f"- before: `{data['trees']['base']['commit']}`",
        f"- after: `{data['trees']['this']['commit']}`",
        "",
        "## CPU ms per warm grading",
        "",
        "| process group | before (each run) | after (each run) | median before | median after |"
        " cut |",
        "|---|---|---|---|---|---|",
    ]
    for group in [*groups, "total"]:
        cols = []
        for name in ("base", "this"):
            cols.append(
                [
                    sum(r["cpu_per_warm_grading_s"].values())
                    if group == "total"
                    else r["cpu_per_warm_grading_s"][group]
                    for r in trees[name]["runs"]
                ]
            )
        before, after = (statistics.median(c) for c in cols)
        cut = f"{(before - after) / before * 100:.0f} %" if before > 0 else "-"
        bold = "**" if group == "total" else ""
        lines.append(
            f"| {bold}{group}{bold} | {', '.join(map(_ms, cols[0]))} | {', '.join(map(_ms, cols[1]))}"
            f" | {bold}{_ms(before)}{bold} | {bold}{_ms(after)}{bold} | {cut} |"
        )
    if trees["base"].get("requests"):
        lines += _requests_report(data)
    lines += [
        "",
        "## Each run",
        "",
        "| run | tree | load average before | scores | warm wall (s) |",
    ]
    lines.append("|---|---|---|---|---|")
    for run in data["order"]:
        r = trees[run["tree"]]["runs"][run["index"]]
        lines.append(
            f"| {run['n']} | {'before' if run['tree'] == 'base' else 'after'} | "
            f"{' '.join(map(str, r['load_before']))} | {', '.join(f'{s:g}' for s in r['scores'])}"
            f" | {', '.join(f'{w:.2f}' for w in r['warm_wall_s'])} |"
        )
    return "\n".join(lines) + "\n"


def _requests_report(data: dict) -> list[str]:
    """The per-request section: `profile_container.py --uniform`, each tree's runs."""
    trees = data["trees"]
    kinds = list(trees["base"]["requests"][0]["per_request_ms"])
    lines = [
        "",
        "## CPU ms per request in the container",
        "",
        f"`scripts/profile_container.py --uniform --reps {data['request_reps']} --rounds 1`, run "
        "after each grading profile above, on the same tree: the container's cgroup CPU per "
        "request (median of the reps; each run's median listed), for the heaviest requests of "
        "a `locked_counter` run, each with and without the lockset check that every request "
        "of a race-check exercise carries; and the container's start (its server and "
        "template).",
        "",
        "| request | before (each run) | after (each run) | median before | median after |",
        "|---|---|---|---|---|",
    ]

    def row(name, pick):
        cols = [[pick(r) for r in trees[t]["requests"]] for t in ("base", "this")]
        med = [statistics.median(c) for c in cols]
        return (
            f"| {name} | {', '.join(f'{x:.0f}' for x in cols[0])} | "
            f"{', '.join(f'{x:.0f}' for x in cols[1])} | {med[0]:.0f} | {med[1]:.0f} |"
        )

    for kind in kinds:
        lines.append(row(kind, lambda r, k=kind: r["per_request_ms"][k]["median"]))
    lines.append(row("the container's start", lambda r: r["start_ms"][0]))
    return lines


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--base", type=Path, required=True, help="the other checkout (before)")
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--reps", type=int, default=6)
    p.add_argument("--exercise", default="locked_counter")
    p.add_argument("--out", default="docs/bench-grading-cpu")
    p.add_argument(
        "--requests",
        type=int,
        default=0,
        metavar="REPS",
        help="also profile_container.py --uniform with REPS requests of each kind, each run",
    )
    p.add_argument(
        "--render", action="store_true", help="write OUT.md again from OUT.json (no measuring)"
    )
    args = p.parse_args()
    out = ROOT / args.out
    if args.render:
        out.with_suffix(".md").write_text(_report(json.loads(out.with_suffix(".json").read_text())))
        return 0
    base = args.base.resolve()
    trees = {
        "base": {"dir": str(base), "commit": _commit(base), "runs": []},
        "this": {"dir": str(ROOT), "commit": _commit(ROOT), "runs": []},
    }
    order = []
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(args.runs):
            for name, tree in (("base", base), ("this", ROOT)):
                cmd = [str(PROFILE), "--exercise", args.exercise, "--reps", str(args.reps)]
                got = _profile(tree, cmd, Path(tmp, f"{name}-{i}.json"))
                trees[name]["runs"].append(got)
                if args.requests:
                    cmd = [str(PER_REQUEST), "--uniform", "--rounds", "1"]
                    per = _profile(
                        tree, [*cmd, "--reps", str(args.requests)], Path(tmp, f"{name}-{i}-r.json")
                    )
                    trees[name].setdefault("requests", []).append(per)
                order.append({"n": len(order) + 1, "tree": name, "index": i})
                total = sum(got["cpu_per_warm_grading_s"].values())
                print(
                    f"run {len(order)}: {name} {total * 1000:.0f} ms per warm grading", flush=True
                )
    data = {
        "exercise": args.exercise,
        "runs": args.runs,
        "reps": args.reps,
        "request_reps": args.requests,
        "base_dir": str(args.base),
        "out": args.out,
        "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": f"{os.cpu_count()} CPUs, {platform.platform()}, Python {platform.python_version()}",
        "trees": trees,
        "order": order,
    }
    out.with_suffix(".json").write_text(json.dumps(data, indent=1) + "\n")
    out.with_suffix(".md").write_text(_report(data))
    print(f"wrote {out.with_suffix('.md')} and .json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
