#!/usr/bin/env python3
"""Where one grading's wall and CPU time go, in a warm grading process (as the portal grades).

    .venv/bin/python scripts/profile_grading.py [--exercise locked_counter] [--reps 6]
        [--backend docker] [--submission PATH] [--cprofile 25] [--json OUT]

Grades the exercise's reference solution `--reps` times in this one process (the judge's fork
server and the warm container pool started once, as in `grader serve`; the first grading,
which starts them, is reported apart) and prints, as medians over the warm gradings:

- the grading process's side: preparing the submission, taking a warm container, starting the
  test run (connect to the fork server, fork), waiting for the run, reading its report, scoring;
- the test run's side (a pytest plugin loaded into each run through PYTEST_ADDOPTS; nothing
  of the grader changes): from the fork to pytest's configure, collection (the test modules'
  import), the sandbox session's opening, each test's setup/call/teardown, and each sandbox
  request's round trip with the supervisor's own `phases` (prepare, spawn, start, call, exit,
  collect, cleanup); the run's CPU (user+system) and, with `--cprofile N`, its N costliest
  functions (cumulative);
- the container's CPU (its cgroup's `cpu.stat`, read before it is removed);
- the CPU seconds one warm grading costs the machine, wherever they are spent: this grading
  process (with the warm pool's threads), the judge's fork server and its test runs, the
  container (its cgroup, over its whole life: its start, every request), its containerd shim,
  and the Docker engine's daemons (dockerd, containerd), summed over the warm gradings (the
  pool's refills included) and divided by their number. On a shared host this is the figure
  other work disturbs least; `runc`'s short-lived processes are not counted.

Run it with another checkout's interpreter (`OTHER/.venv/bin/python scripts/profile_grading.py`)
to profile that checkout's grader: the grader is the one the interpreter imports.
It writes nothing to the repository (`--json OUT`: the CPU figures, for `bench_grading_cpu.py`). A
measurement, not a test: the machine's load average is printed with it.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HERE = Path(__file__).resolve().parent
OUT_ENV = "PGRADER_PROFILE_DIR"
CPROFILE_ENV = "PGRADER_PROFILE_CPROFILE"

# ---------------------------------------------------------------- the plugin, inside each test run
# (imported in the forked test run as `-p profile_grading`; module state is the run's own)

_RUN: dict = {}


def _cpu() -> float:
    import resource

    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


def pytest_configure(config):
    _RUN.update(configure=time.time(), cpu_configure=_cpu(), tests=[], requests=[])
    if os.environ.get(CPROFILE_ENV):
        import cProfile

        _RUN["profiler"] = cProfile.Profile()
        _RUN["profiler"].enable()
    from grader.judge import plugin as judge_plugin
    from grader.judge import proxy
    from grader.sandbox import base

    reply = proxy.Student.reply

    def timed_reply(self, probe_or_name, *args, **kwargs):
        t0, c0 = time.time(), _cpu()
        got = reply(self, probe_or_name, *args, **kwargs)
        phases = got.raw.get("phases") or {}
        _RUN["requests"].append(
            {
                "what": got.what[:60],
                "wall": time.time() - t0,
                "cpu": _cpu() - c0,
                "checks": sorted((kwargs.get("checks") or {}).keys()),
                "phases": {k: v for k, v in phases.items() if isinstance(v, (int, float))},
            }
        )
        return got

    proxy.Student.reply = timed_reply
    get_backend = judge_plugin.get_backend

    def timed_backend(*a, **kw):
        t0 = time.time()
        backend = get_backend(*a, **kw)
        _RUN["backend"] = time.time() - t0
        opener = backend.open

        def timed_open(*oa, **okw):
            t1 = time.time()
            session = opener(*oa, **okw)
            _RUN["session_open"] = time.time() - t1
            return session

        backend.open = timed_open
        return backend

    judge_plugin.get_backend = timed_backend
    del base


def pytest_collection_finish(session):
    _RUN["collected"] = time.time()
    _RUN["cpu_collected"] = _cpu()


def pytest_runtest_logreport(report):
    _RUN["tests"].append(
        {"test": report.nodeid.split("::")[-1], "when": report.when, "wall": report.duration}
    )


def pytest_sessionfinish(session, exitstatus):
    _RUN["finished"] = time.time()


def pytest_unconfigure(config):
    _RUN["unconfigure"] = time.time()
    profiler = _RUN.pop("profiler", None)
    folder = os.environ.get(OUT_ENV)
    if not folder:
        return
    _RUN["cpu_end"] = _cpu()
    if profiler is not None:
        import io
        import pstats

        profiler.disable()
        text = io.StringIO()
        pstats.Stats(profiler, stream=text).sort_stats(
            os.environ.get("PGRADER_PROFILE_SORT", "cumulative")
        ).print_stats(int(os.environ[CPROFILE_ENV]))
        _RUN["cprofile"] = text.getvalue()
    Path(folder, f"run-{os.getpid()}.json").write_text(json.dumps(_RUN))


# ---------------------------------------------------------------- the grading process


def _container_cpu(container_id: str) -> float | None:
    """Seconds of CPU the container's processes used (cgroup v2, or v1's cpuacct)."""
    for path in (
        f"/sys/fs/cgroup/system.slice/docker-{container_id}.scope/cpu.stat",
        f"/sys/fs/cgroup/docker/{container_id}/cpu.stat",
    ):
        try:
            for line in Path(path).read_text().splitlines():
                if line.startswith("usage_usec"):
                    return int(line.split()[1]) / 1e6
        except OSError:
            continue
    try:
        return (
            int(Path(f"/sys/fs/cgroup/cpuacct/docker/{container_id}/cpuacct.usage").read_text())
            / 1e9
        )
    except OSError:
        return None


def _shim_cpu(container_id: str) -> float:
    """CPU seconds of the containerd shim of `container_id` (gone once the container is)."""
    import psutil

    total = 0.0
    for proc in psutil.process_iter(["name", "cmdline"]):
        if (proc.info["name"] or "").startswith("containerd-shim") and container_id in " ".join(
            proc.info["cmdline"] or []
        ):
            try:
                t = proc.cpu_times()
                total += t.user + t.system + t.children_user + t.children_system
            except psutil.Error:
                pass
    return total


def _cpu_now() -> dict:
    """CPU seconds so far: this process, its descendants (the judge's fork server, which reaps
    its runs), the Docker engine's daemons."""
    import resource

    import psutil

    me = resource.getrusage(resource.RUSAGE_SELF)
    out = {"this grading process (and the pool's threads)": me.ru_utime + me.ru_stime}
    tree = 0.0
    for proc in psutil.Process().children(recursive=True):
        try:
            t = proc.cpu_times()
            tree += t.user + t.system + t.children_user + t.children_system
        except psutil.Error:
            pass
    out["the judge's fork server and its runs"] = tree
    engine = 0.0
    for proc in psutil.process_iter(["name"]):
        if proc.info["name"] in ("dockerd", "containerd"):
            try:
                t = proc.cpu_times()
                engine += t.user + t.system
            except psutil.Error:
                pass
    out["the Docker engine (dockerd, containerd)"] = engine
    return out


def _med(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def _fmt(x, unit="ms"):
    if x is None:
        return "-"
    return f"{x * 1000:.0f} ms" if unit == "ms" else f"{x:.2f} s"


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--exercise", default="locked_counter")
    p.add_argument("--submission", type=Path, help="default: solutions/EXERCISE/solution.py")
    p.add_argument("--reps", type=int, default=6)
    p.add_argument("--backend", default="docker", choices=["docker", "local"])
    p.add_argument("--seed", type=int, default=16)
    p.add_argument("--cprofile", type=int, default=0, help="print the N costliest functions")
    p.add_argument("--json", type=Path, help="also write the CPU figures there (JSON)")
    p.add_argument("--course", type=Path, default=ROOT, help="the course folder (default: ours)")
    args = p.parse_args()

    # private core locks (as bench_warm): another grader's tests holding the host's cores for
    # minutes would be timed as our waits
    os.environ.setdefault("PGRADER_CORES_DIR", tempfile.mkdtemp(prefix="pgrader-profile-cores-"))
    runs_dir = Path(tempfile.mkdtemp(prefix="pgrader-profile-"))
    os.environ[OUT_ENV] = str(runs_dir)
    os.environ["PYTEST_ADDOPTS"] = "-p profile_grading"
    os.environ["PYTHONPATH"] = os.pathsep.join(
        [str(HERE), *filter(None, [os.environ.get("PYTHONPATH")])]
    )
    if args.cprofile:
        os.environ[CPROFILE_ENV] = str(args.cprofile)
    os.chdir(tempfile.mkdtemp(prefix="pgrader-profile-cwd-"))  # the fork server's sys.path[0]

    from grader import grade as grade_mod
    from grader.course import load_course
    from grader.judge import runner, warm
    from grader.sandbox import pool as pool_mod

    course = load_course(args.course)
    exercise = course.exercise(args.exercise)
    submission = args.submission or ROOT / "solutions" / args.exercise / "solution.py"
    marks: dict = {}

    def timed(name, fn):
        def wrapper(*a, **kw):
            t0 = time.monotonic()
            try:
                return fn(*a, **kw)
            finally:
                marks.setdefault(name, []).append(time.monotonic() - t0)

        return wrapper

    judge_init = warm.JudgeProcess.__init__
    started, ended = [], []  # wall clock: the fork answered, the run's exit seen

    def judge_started(*a, **kw):
        judge_init(*a, **kw)
        started.append(time.time())

    warm.JudgeProcess.__init__ = timed("run start (connect, fork)", judge_started)
    wait = timed("run (fork to exit)", runner._wait)

    def waited(*a, **kw):
        try:
            return wait(*a, **kw)
        finally:
            ended.append(time.time())

    runner._wait = waited
    runner.Report.read = staticmethod(timed("report read", runner.Report.read))
    grade_mod.prepare_submission = timed("prepare submission", grade_mod.prepare_submission)
    grade_mod.score_records = timed("score", grade_mod.score_records)
    containers: list[float | None] = []
    shims: list[float] = []
    take_times: list[float] = []
    real_shared = pool_mod.shared_pool

    def shared_pool():
        pool = real_shared()
        if not getattr(pool, "_profiled", False):
            take, discard = pool.take, pool.discard

            def timed_take(*args, **kwargs):
                t0 = time.monotonic()
                box = take(*args, **kwargs)
                take_times.append(time.monotonic() - t0)
                return box

            def timed_discard(box):
                containers.append(_container_cpu(box.container.id))
                shims.append(_shim_cpu(box.container.id))
                discard(box)

            pool.take, pool.discard, pool._profiled = timed_take, timed_discard, True
        return pool

    runner.shared_pool = shared_pool
    if args.backend != "docker":
        take_times.append(0.0)

    walls, scores, results = [], [], []
    cpu0: dict = {}
    for i in range(args.reps):
        if i == 1:
            cpu0 = _cpu_now()
        t0 = time.monotonic()
        result = grade_mod.grade_submission(
            course,
            exercise,
            submission,
            student=f"s{i}",
            backend=args.backend,
            seed=args.seed,
        )
        walls.append(time.monotonic() - t0)
        scores.append(result.score)
        results.append(result)
        time.sleep(0.3)  # the pool refills off the critical path, as between uploads
    cpu1 = _cpu_now()
    runs = sorted(
        (json.loads(f.read_text()) for f in runs_dir.glob("run-*.json")),
        key=lambda r: r["configure"],
    )
    for run, t_start, t_end in zip(runs, started, ended):
        run["fork_to_configure"] = run["configure"] - t_start
        run["unconfigure_to_exit"] = t_end - run["unconfigure"]
    warm_runs = runs[1:] or runs
    print(
        f"{args.exercise} ({submission.relative_to(ROOT) if submission.is_relative_to(ROOT) else submission}) "
        f"on {args.backend}, {args.reps} gradings in one process, seed {args.seed}; "
        f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}; "
        f"{os.cpu_count()} CPUs"
    )
    print(f"scores: {scores}")
    print(
        f"first grading (starts the fork server and the pool): {_fmt(walls[0], 's')}; "
        f"warm gradings: median {_fmt(_med(walls[1:]) if len(walls) > 1 else None, 's')} "
        f"({', '.join(f'{w:.2f}' for w in walls[1:])})"
    )
    print("\nThe grading process (median of the warm gradings):")
    for name in [
        "prepare submission",
        "run start (connect, fork)",
        "run (fork to exit)",
        "report read",
        "score",
    ]:
        print(f"  {name:34s} {_fmt(_med(marks.get(name, [])[1:] or marks.get(name, [])))}")
    print(f"  {'take a warm container':34s} {_fmt(_med(take_times[1:] or take_times))}")
    print("\nThe test run (median of the warm runs):")
    rows = {
        "fork to pytest's configure": [r.get("fork_to_configure") for r in warm_runs],
        "configure to collected (test modules)": [
            r["collected"] - r["configure"] for r in warm_runs
        ],
        "backend (SDK client)": [r.get("backend") for r in warm_runs],
        "session open (attach, copy in)": [r.get("session_open") for r in warm_runs],
        "collected to session finish": [r["finished"] - r["collected"] for r in warm_runs],
        "session finish to unconfigure": [r["unconfigure"] - r["finished"] for r in warm_runs],
        "unconfigure to the exit seen": [r.get("unconfigure_to_exit") for r in warm_runs],
        "CPU: up to collected": [r["cpu_collected"] for r in warm_runs],
        "CPU: whole run": [r["cpu_end"] for r in warm_runs],
        "CPU: in requests (host side)": [sum(q["cpu"] for q in r["requests"]) for r in warm_runs],
    }
    for name, values in rows.items():
        print(f"  {name:38s} {_fmt(_med(values))}")
    print("\nEach test (median wall, setup + call + teardown):")
    names = [t["test"] for t in warm_runs[0]["tests"] if t["when"] == "call"]
    for name in names:
        per = {
            w: _med(
                [
                    sum(t["wall"] for t in r["tests"] if t["test"] == name and t["when"] == w)
                    for r in warm_runs
                ]
            )
            for w in ("setup", "call", "teardown")
        }
        print(f"  {name:46s} {_fmt(per['setup'])} + {_fmt(per['call'])} + {_fmt(per['teardown'])}")
    print("\nEach sandbox request (median wall; host CPU; the supervisor's phases):")
    n_req = min(len(r["requests"]) for r in warm_runs)
    for k in range(n_req):
        qs = [r["requests"][k] for r in warm_runs]
        keys = sorted({key for q in qs for key in q["phases"]})
        phases = ", ".join(
            f"{key} {_fmt(_med([q['phases'].get(key) for q in qs]))}" for key in keys
        )
        checks = f" [{', '.join(qs[0]['checks'])}]" if qs[0]["checks"] else ""
        print(
            f"  {qs[0]['what'][:44]:44s}{checks:12s} {_fmt(_med([q['wall'] for q in qs]))}; "
            f"cpu {_fmt(_med([q['cpu'] for q in qs]))}; {phases}"
        )
    total_req = _med([sum(q["wall"] for q in r["requests"]) for r in warm_runs])
    print(f"  all {n_req} requests: {_fmt(total_req)}")
    cpu = [c for c in containers[1:] or containers if c is not None]
    print(
        f"\nThe container's CPU (cgroup): median {_fmt(_med(cpu))}"
        if cpu
        else "\nThe container's CPU: not readable (no cgroup file found)"
    )
    warm_n = max(1, args.reps - 1)
    per = {k: (cpu1[k] - cpu0.get(k, 0.0)) / warm_n for k in cpu1}
    per["the container (cgroup)"] = sum(c for c in containers[1:] if c) / warm_n
    per["its containerd shim"] = sum(shims[1:]) / warm_n
    print("\nCPU seconds per warm grading, wherever spent:")
    for name, value in per.items():
        print(f"  {name:46s} {_fmt(value)}")
    print(f"  {'total':46s} {_fmt(sum(per.values()))}")
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "exercise": args.exercise,
                    "reps": args.reps,
                    "scores": scores,
                    "load_after": [round(x, 2) for x in os.getloadavg()],
                    "warm_wall_s": [round(w, 3) for w in walls[1:]],
                    "container_cpu_s": [round(c, 4) if c is not None else None for c in cpu],
                    "cpu_per_warm_grading_s": {k: round(v, 4) for k, v in per.items()},
                },
                indent=1,
            )
            + "\n"
        )
    if args.cprofile and warm_runs[-1].get("cprofile"):
        print("\ncProfile of the last test run (cumulative):")
        print(warm_runs[-1]["cprofile"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
