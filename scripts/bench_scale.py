#!/usr/bin/env python3
"""Benchmark grading at scale: throughput and per-submission overhead, and otter/nbgrader beside us.

    nice -n 10 .venv/bin/python scripts/bench_scale.py [--configs local:1:200 docker:2:200 ...]
        [--celery] [--trivial 30] [--no-rivals] [--no-profile] [--out docs/bench-scale]

1. **The sample class scaled up**: `sample_class/` copied round-robin under new names
   (`alice007`, ...) into a temporary course, keeping each original's received time, so every
   copy must get its original's known score (`sample_class/expected.csv`). Each configuration
   (`BACKEND:JOBS:SIZE`; `celery:WORKERS:SIZE`, several for the scaling from 1 to 2 workers,
   e.g. `--configs celery:1:28 celery:2:28`) grades the first SIZE copies
   with `grader grade-all` (one command per exercise, as an instructor would, no store), and
   we record submissions per minute, and from every `results.json` the submission's wall time
   (`execution_time`) and the per-test `duration`s: overhead = wall - the tests' own time.
2. **A trivial exercise** (`scripts/bench_rivals.py`) graded by us (local and Docker, 1 and 2
   jobs), by `otter run`, by `otter grade` (Docker, every core; offline: `scripts/otter_offline.py`)
   and by `nbgrader autograde`, all from PyPI in `.cache/bench-venv`.
3. **Where the time goes** (`scripts/bench_overhead.py`): pytest start-up, container start,
   one sandbox request, intake and outputs, each timed alone.

Writes `--out`.md (the table) and `--out`.json (every number). Do not edit those by hand.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "scripts")]

import bench_rivals  # noqa: E402
from bench_scale_report import render  # noqa: E402

GRADER = ROOT / ".venv" / "bin" / "grader"
SAMPLE = ROOT / "sample_class"
DEFAULT_CONFIGS = ["local:1:200", "local:2:200", "docker:1:200", "docker:2:200"]
TOLERANCE = 0.01


# ---------------------------------------------------------------- the course and the class


def make_course(work: Path) -> Path:
    """A course folder: the real course.toml plus the trivial exercise, the real exercises linked."""
    course = work / "course"
    (course / "exercises").mkdir(parents=True)
    for ex in sorted((ROOT / "exercises").iterdir()):
        if (ex / "exercise.toml").is_file():
            (course / "exercises" / ex.name).symlink_to(ex)
    bench_rivals.write_our_exercise(course)
    toml = (ROOT / "course.toml").read_text() + bench_rivals.course_entry()
    (course / "course.toml").write_text(toml)
    return course


def sample_students() -> list[tuple[str, str, float]]:
    """(exercise, student, expected final score) in expected.csv's order."""
    with (SAMPLE / "expected.csv").open(newline="") as f:
        return [(r["exercise"], r["student"], float(r["final"])) for r in csv.DictReader(f)]


def scaled_class(folder: Path, size: int) -> dict[tuple[str, str], float]:
    """The first `size` copies, round-robin over the sample's students; (exercise, name) -> score."""
    students = sample_students()
    received: dict[str, dict[str, str]] = {}
    for slug in {s for s, _, _ in students}:
        with (SAMPLE / slug / "received.csv").open(newline="") as f:
            received[slug] = {r["student"]: r["received"] for r in csv.DictReader(f)}
    expected, rows = {}, {}
    for i in range(size):
        slug, original, score = students[i % len(students)]
        name = f"{original}{i // len(students):03d}"
        shutil.copytree(SAMPLE / slug / original, folder / slug / name)
        expected[(slug, name)] = score
        if original in received[slug]:
            rows.setdefault(slug, []).append((name, received[slug][original]))
    for slug, entries in rows.items():
        with (folder / slug / "received.csv").open("w", newline="") as f:
            csv.writer(f).writerows([("student", "received"), *entries])
    return expected


# ---------------------------------------------------------------- one configuration


def image_tag() -> str:
    """The sandbox image tag for the sources as they are now, built if missing (not timed)."""
    code = (
        "from grader.sandbox.image import ensure_image, image_tag; "
        "ensure_image(log=lambda *a: None); print(image_tag())"
    )
    return subprocess.run(
        [str(ROOT / ".venv" / "bin" / "python"), "-c", code],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()


def grade_all(
    course: Path,
    slug: str,
    subs: Path,
    out: Path,
    backend: str,
    jobs: int,
    log_file: Path,
    extra: list[str] = (),
    images: list | None = None,
    store: bool = False,
) -> float:
    """Wall seconds of one `grader grade-all` (its exit status may be 1: a submission not graded).

    For Docker the image is made ready first, untimed; `images` gets the tag before and after
    (they differ when someone changed grader sources during the run: a rebuild was timed).
    Nothing is recorded in a store unless `store` (then `extra` says which)."""
    if backend == "docker":
        before = image_tag()
    argv = [
        str(GRADER),
        "--course",
        str(course),
        "grade-all",
        slug,
        str(subs),
        "--out",
        str(out),
        *([] if store else ["--no-store"]),
        "-j",
        str(jobs),
        "--backend",
        backend,
        *extra,
    ]
    t0 = time.monotonic()
    with log_file.open("a") as log:
        log.write(f"$ {' '.join(argv)}\n")
        log.flush()
        proc = subprocess.run(argv, stdout=log, stderr=subprocess.STDOUT)
    wall = time.monotonic() - t0
    if backend == "docker" and images is not None:
        images.append([before, image_tag()])
    if proc.returncode not in (0, 1):
        raise RuntimeError(f"grade-all {slug} failed (exit {proc.returncode}); see {log_file}")
    return wall


def per_submission(out: Path, expected: dict[tuple[str, str], float]) -> list[dict]:
    """One record per expected submission from its results.json (or a missing one)."""
    records = []
    for (slug, name), want in sorted(expected.items()):
        path = out / slug / name / "results.json"
        if not path.exists():
            records.append({"exercise": slug, "student": name, "graded": False, "expected": want})
            continue
        data = json.loads(path.read_text())
        tests = data.get("tests", [])
        own = sum(float(t.get("duration") or 0) for t in tests)
        hidden = sum(float(t.get("duration") or 0) for t in tests if "hidden" in t.get("tags", []))
        platform_failed = any(t.get("verdict") == "grader-error" for t in tests)
        records.append(
            {
                "exercise": slug,
                "student": name,
                "graded": not platform_failed,
                "expected": want,
                "score": data["score"],
                "tests": len(tests),
                "refused": bool(data["pgrader"].get("error")),
                "wall": data["execution_time"],
                "tests_time": round(own, 3),
                "hidden_time": round(hidden, 3),
            }
        )
    return records


def run_config(course: Path, work: Path, backend: str, jobs: int, size: int, log) -> dict:
    """Grade the first `size` copies of the scaled class with one configuration."""
    tag = f"{backend}-j{jobs}-n{size}"
    subs, out = work / f"class-{tag}", work / f"out-{tag}"
    expected = scaled_class(subs, size)
    slugs = sorted({s for s, _ in expected})
    load0 = os.getloadavg()
    walls, images = {}, []
    for slug in slugs:
        walls[slug] = grade_all(
            course, slug, subs / slug, out / slug, backend, jobs, work / f"{tag}.log", images=images
        )
        log(f"{tag} {slug}: {walls[slug]:.1f} s")
    records = per_submission(out, expected)
    return {
        "backend": backend,
        "jobs": jobs,
        "size": size,
        "walls": walls,
        "images": images,
        "wall": sum(walls.values()),
        "load_before": load0,
        "load_after": os.getloadavg(),
        "submissions": records,
    }


def run_trivial(course: Path, work: Path, backend: str, jobs: int, n: int, log) -> dict:
    """Ours on the trivial exercise: one `grade-all` over n copies."""
    subs = work / f"trivial-{backend}-j{jobs}"
    out = work / f"trivial-out-{backend}-j{jobs}"
    want = bench_rivals.write_our_class(subs, n)
    images: list = []
    wall = grade_all(
        course,
        bench_rivals.SLUG,
        subs,
        out / bench_rivals.SLUG,
        backend,
        jobs,
        work / "trivial.log",
        images=images,
    )
    records = per_submission(out, {(bench_rivals.SLUG, k): v for k, v in want.items()})
    problems = [
        f"{r['student']}: {r.get('score')} (expected {r['expected']})"
        for r in records
        if not r["graded"] or abs(r["score"] - r["expected"]) > TOLERANCE
    ]
    log(f"ours {backend} -j{jobs}: {n} trivial submissions in {wall:.1f} s")
    return {
        "tool": f"pgrader ({backend}, -j{jobs})",
        "backend": backend,
        "n": n,
        "wall": wall,
        "concurrent": jobs,
        "per_submission": [r.get("wall") for r in records],
        "submissions": records,
        "score_problems": problems,
        "images": images,
        "how": f"`grader grade-all {bench_rivals.SLUG} DIR -j {jobs} --backend {backend} "
        "--no-store`, one command",
    }


# ---------------------------------------------------------------- Celery (grader/distributed)


def celery_missing() -> str | None:
    """Why the Celery path cannot be measured here, or None when it can."""
    help_text = subprocess.run(
        [str(GRADER), "grade-all", "--help"], capture_output=True, text=True
    ).stdout
    if not (ROOT / "grader" / "distributed").is_dir() or "--distributed" not in help_text:
        last = subprocess.run(
            ["git", "log", "-1", "--format=%h %cI", "--", "grader/distributed"],
            cwd=ROOT,
            capture_output=True,
            text=True,
        ).stdout.strip()
        return (
            "the Celery path (`grader worker`, `grade-all --distributed`, grader/distributed/) "
            "had not landed when this run started"
            + (f" (last commit there: {last})" if last else " (no commit there yet)")
        )
    if not shutil.which("redis-server"):
        return "redis-server is not installed (scripts/setup-packages.sh installs it)"
    return None


# ---------------------------------------------------------------- the machine


def machine() -> dict:
    def git(*args):
        return subprocess.run(
            ["git", *args], cwd=ROOT, capture_output=True, text=True
        ).stdout.strip()

    def version(argv):
        try:
            return subprocess.run(argv, capture_output=True, text=True, timeout=30).stdout.strip()
        except (OSError, subprocess.TimeoutExpired):
            return "not available"

    dirty = git("status", "--porcelain", "grader", "exercises")
    return {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "host": platform.node(),
        "arch": platform.machine(),
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "kernel": platform.release(),
        "commit": git("rev-parse", "--short", "HEAD"),
        "dirty": bool(dirty),
        "grader": version([str(GRADER), "--version"])
        or version([sys.executable, "-c", "import grader; print(grader.__version__)"]),
        "docker": version(["docker", "version", "--format", "{{.Server.Version}}"]),
        "load": os.getloadavg(),
    }


# ---------------------------------------------------------------- main


def merge(old: dict, new: dict) -> dict:
    """`old` with `new`'s measurements added; the later run is listed under `merged`."""
    key = lambda c: (c["backend"], c["jobs"], c["size"])  # noqa: E731
    fresh = {key(c) for c in new["configs"]}
    old["configs"] = [c for c in old["configs"] if key(c) not in fresh] + new["configs"]
    tools = {r["tool"] for r in new["trivial"]}
    old["trivial"] = [r for r in old["trivial"] if r["tool"] not in tools] + new["trivial"]
    for part in ("profile", "celery", "rival_versions"):
        if new.get(part):
            old[part] = new[part]
    runs = new.get("celery_runs") or []
    fresh_celery = {(c["workers"], c["size"]) for c in runs}
    old["celery_runs"] = [
        c for c in old.get("celery_runs") or [] if (c["workers"], c["size"]) not in fresh_celery
    ] + runs
    measured = [f"{b}:{j}:{n}" for b, j, n in sorted(fresh)] + sorted(tools)
    measured += [f"celery:{w}:{n}" for w, n in sorted(fresh_celery)]
    if new.get("celery") and not runs:
        measured.append("celery")
    old.setdefault("merged", []).append(
        {
            "machine_before": new["machine_before"],
            "machine_after": new["machine_after"],
            "minutes": new["minutes"],
            "measured": measured,
        }
    )
    return old


def parse_config(text: str) -> tuple[str, int, int]:
    try:
        backend, jobs, size = text.split(":")
        if backend not in ("local", "docker", "celery") or int(jobs) < 1 or int(size) < 1:
            raise ValueError
        return backend, int(jobs), int(size)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r}: expected BACKEND:JOBS:SIZE, BACKEND local, docker or celery"
        ) from None


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument(
        "--configs",
        nargs="*",
        type=parse_config,
        default=None,
        help=f"BACKEND:JOBS:SIZE runs of the scaled class (default {' '.join(DEFAULT_CONFIGS)})",
    )
    p.add_argument(
        "--celery",
        action="store_true",
        help="also grade with 2 Celery workers on this machine (celery:2:SIZE, the "
        "largest size) when grader/distributed has landed",
    )
    p.add_argument("--trivial", type=int, default=30, help="copies of the trivial exercise")
    p.add_argument("--trivial-jobs", type=int, nargs="+", default=[1, 2])
    p.add_argument("--no-rivals", action="store_true", help="skip otter-grader and nbgrader")
    p.add_argument("--no-profile", action="store_true", help="skip the overhead profile")
    p.add_argument("--profile-reps", type=int, default=5)
    p.add_argument(
        "--backends",
        nargs="+",
        default=["local", "docker"],
        help="backends for the trivial exercise and the profile",
    )
    p.add_argument(
        "--out", default=str(ROOT / "docs" / "bench-scale"), help="writes OUT.md and OUT.json"
    )
    p.add_argument("--keep", action="store_true", help="keep the temporary folder")
    p.add_argument(
        "--merge",
        action="store_true",
        help="add this run's measurements to OUT.json (same configuration or tool: "
        "replaced) instead of starting a new one",
    )
    p.add_argument(
        "--drop",
        nargs="+",
        type=parse_config,
        default=[],
        metavar="CONFIG",
        help="with --render-only: leave these configurations out of OUT.json",
    )
    p.add_argument(
        "--render-only",
        action="store_true",
        help="write OUT.md again from OUT.json (after the report's text changed)",
    )
    args = p.parse_args(argv)
    out = Path(args.out)
    if args.render_only:
        data = json.loads(out.with_suffix(".json").read_text())
        data["configs"] = [
            c for c in data["configs"] if (c["backend"], c["jobs"], c["size"]) not in set(args.drop)
        ]
        out.with_suffix(".json").write_text(json.dumps(data, indent=1) + "\n")
        out.with_suffix(".md").write_text(render(data))
        return 0
    configs = (
        list(args.configs)
        if args.configs is not None
        else [parse_config(c) for c in DEFAULT_CONFIGS]
    )
    if args.celery and not any(b == "celery" for b, _, _ in configs):
        configs.append(("celery", 2, max((n for _, _, n in configs), default=200)))
    t_start = time.monotonic()
    log = lambda msg: print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)  # noqa: E731
    data: dict = {
        "machine_before": machine(),
        "args": {k: v for k, v in vars(args).items()},
        "configs": [],
        "trivial": [],
        "profile": None,
        "celery": None,
        "celery_runs": [],  # one per celery:WORKERS:SIZE configuration (1 and 2 workers...)
    }
    work = Path(tempfile.mkdtemp(prefix="pgrader-bench-scale-"))
    log(f"working in {work}")
    try:
        course = make_course(work)
        warm = work / "warm"
        bench_rivals.write_our_class(warm, 1)
        used = {b for b, _, _ in configs if b != "celery"} | (
            set(args.backends) if args.trivial or not args.no_profile else set()
        )
        for backend in sorted(used):
            log(f"warm-up on {backend} (builds the sandbox image if it is missing; not timed)")
            grade_all(
                course,
                bench_rivals.SLUG,
                warm,
                work / f"warm-out-{backend}",
                backend,
                1,
                work / "warm.log",
            )
        for backend, jobs, size in configs:
            if backend != "celery":
                data["configs"].append(run_config(course, work, backend, jobs, size, log))
                continue
            reason = celery_missing()
            data["celery"] = {
                "workers": jobs,
                "size": size,
                "measured": reason is None,
                "reason": reason,
            }
            data["celery_runs"].append(data["celery"])
            if reason is None:
                from bench_celery import run_celery

                # a course (and store) of its own: the distributed path records every grading,
                # and a later configuration must not find the earlier one's results there
                own = work / f"celery-w{jobs}-n{size}"
                own.mkdir()
                data["celery"].update(
                    run_celery(
                        make_course(own),
                        own,
                        jobs,
                        size,
                        log,
                        make_class=scaled_class,
                        grade_all=grade_all,
                        read=per_submission,
                    )
                )
            else:
                log(f"celery: not measured: {reason}")
        for backend in args.backends if args.trivial else []:
            for jobs in args.trivial_jobs:
                data["trivial"].append(run_trivial(course, work, backend, jobs, args.trivial, log))
        if args.trivial and not args.no_rivals:
            data["rival_versions"] = bench_rivals.ensure_venv(log)
            data["trivial"].append(bench_rivals.run_otter(work / "otter", args.trivial, log))
            data["trivial"].append(
                bench_rivals.run_otter_grade(work / "otter-grade", args.trivial, log)
            )
            data["trivial"].append(bench_rivals.run_nbgrader(work / "nbgrader", args.trivial, log))
        if not args.no_profile:
            from bench_overhead import profile

            sub = work / "profile-sub"
            bench_rivals.write_our_class(sub, 1)
            data["profile"] = profile(
                course, bench_rivals.SLUG, sub / "s000", args.backends, args.profile_reps, log
            )
    finally:
        if args.keep:
            log(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    data["machine_after"] = machine()
    data["minutes"] = round((time.monotonic() - t_start) / 60, 1)
    if args.merge and out.with_suffix(".json").exists():
        data = merge(json.loads(out.with_suffix(".json").read_text()), data)
    out.with_suffix(".json").write_text(json.dumps(data, indent=1) + "\n")
    out.with_suffix(".md").write_text(render(data))
    log(f"wrote {out}.md and {out}.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
