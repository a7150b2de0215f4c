#!/usr/bin/env python3
"""A deadline burst on the portal, on one machine, over loopback.

    .venv/bin/python scripts/bench_burst.py [--students 300] [--uploads 1000] [--window 600]
        [--jobs 2] [--backend local] [--drain 7200] [--out docs/bench-burst]

A temporary course holding `locked_counter` (due in the future: no late penalty), a roster of
STUDENTS students and one instructor imported with `grader accounts import`, and one `grader
serve` (its SQLite store, JOBS grading threads, BACKEND). Every student signs in first (not
timed). Then UPLOADS uploads arrive within WINDOW seconds, more and more of them towards the
deadline (the density grows linearly: half of them in the last 30 % of the window), each from
its student's own session, of one of: the reference (50 %), the racy `no_lock` mutant (25 %),
the `lock_per_call` mutant (10 %), a file with a syntax error (refused at intake, 10 %), or the
student's previous file again, byte for byte (5 %). At most 32 requests are in flight at once.

While the burst lasts, and afterwards until every attempt is graded (at most DRAIN seconds):
- every student waiting for an attempt polls its status (`/api/.../attempts/N`) as the page's
  script does (every 1 s while it runs, backing off to every 5 s while it waits);
- every 5 s someone opens an attempt's page (`/exercises/.../attempts/N`, the feedback page);
- every 5 s the instructor opens the exercise's dashboard.
Each request's latency and status are kept; "during the burst" is the upload window.

At the end the store is read directly: every upload is one attempt, every attempt has exactly
one job and exactly one grading (refused or graded), and upload-to-feedback time is the
server's (grading finished minus received), also split by what was uploaded, and into the wait
for a grading thread (claimed minus received) and the grading itself (finished minus claimed).
The CPU the machine spent from the first upload until every attempt was graded is read from
/proc/stat, and the `grader serve` process tree's own (its judge fork server and test runs;
the containers run under the Docker engine, outside it): on 2 cores, upload-to-feedback under a
burst is bounded by the CPU seconds each grading costs. `--label` names the run (a before/after
pair). Writes OUT.md and OUT.json; do not edit those by hand.

With `--before CHECKOUT` (an older checkout with its own .venv, as `scripts/bench_warm.py`
takes) the burst is run `--rounds` times with each grader, alternating (after, before, before,
after, ...: both see the same machine state on average), a fresh course and server each time;
OUT.md then starts with one row per run side by side, followed by the full report of each.

Sandbox core locks are private to each run (PGRADER_CORES_DIR, as bench_warm does): other
grader processes on a shared host holding cores would otherwise be timed as our waits.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import os
import platform
import queue
import random
import re
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]
GRADER = str(ROOT / ".venv" / "bin" / "grader")  # the grader measured ("after")
SLUG = "locked_counter"
KINDS = {  # what a student uploads -> (share, the bytes)
    "reference": (0.50, (ROOT / "solutions" / SLUG / "solution.py").read_bytes()),
    "racy": (
        0.25,
        (ROOT / "solutions" / SLUG / "mutants" / "no_lock" / "solution.py").read_bytes(),
    ),
    "lock_per_call": (
        0.10,
        (ROOT / "solutions" / SLUG / "mutants" / "lock_per_call" / "solution.py").read_bytes(),
    ),
    "syntax_error": (0.10, b"def parallel_count(n_threads, n_increments)\n    return 0\n"),
    "same_again": (0.05, None),  # the student's previous file again
}
PASSWORD = "burst-pass-1"
POLL_PAGE = 5.0  # seconds between feedback-page views, and between dashboard views
IN_FLIGHT = 32


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def make_course(folder: Path, students: int, grader: str) -> list[str]:
    (folder / "course.toml").write_text(
        '[course]\nname = "Burst"\nterm = "bench"\nbackend = "local"\n\n'
        "[portal]\nsubmissions_per_hour = 20\n\n"
        f'[[exercise]]\nslug = "{SLUG}"\npoints = 10\nopens = 2026-01-01T00:00:00Z\n'
        "due = 2099-12-31T23:59:00Z\n"
    )
    shutil.copytree(
        ROOT / "exercises" / SLUG,
        folder / "exercises" / SLUG,
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    logins = [f"s{i:03d}" for i in range(students)]
    with (folder / "roster.csv").open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["student", "name", "email", "role", "password"])
        w.writerows(
            [login, f"Student {login}", f"{login}@example.edu", "student", PASSWORD]
            for login in logins
        )
        w.writerow(["prof", "Prof", "prof@example.edu", "instructor", PASSWORD])
    subprocess.run(
        [grader, "--course", str(folder), "accounts", "import", str(folder / "roster.csv")],
        check=True,
        capture_output=True,
        timeout=600,
    )
    return logins


class Server:
    def __init__(self, course: Path, jobs: int, backend: str, grader: str):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = open(course / "serve.log", "w")
        self.proc = subprocess.Popen(
            [
                grader,
                "serve",
                "--course",
                str(course),
                "--port",
                str(self.port),
                "--backend",
                backend,
                "--jobs",
                str(jobs),
                "--access-log",
                str(course / "access.log"),
            ],
            stdout=subprocess.PIPE,
            stderr=self.log,
            text=True,
        )
        line = self.proc.stdout.readline()
        if not line.startswith("portal listening on"):
            raise SystemExit(
                f"grader serve did not start: {line}\n{(course / 'serve.log').read_text()}"
            )

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


class Recorder:
    """Every request: what, when (s since the burst began), latency, status or error."""

    def __init__(self):
        self.rows: list[dict] = []
        self.lock = threading.Lock()
        self.t0 = time.monotonic()

    def now(self) -> float:
        return time.monotonic() - self.t0

    def request(self, what: str, session: requests.Session, method: str, url: str, ok=(200,), **kw):
        start = self.now()
        try:
            r = session.request(method, url, timeout=120, allow_redirects=False, **kw)
            status, error = r.status_code, "" if r.status_code in ok else f"HTTP {r.status_code}"
        except requests.RequestException as exc:
            r, status, error = None, 0, f"{type(exc).__name__}: {exc}"[:300]
        with self.lock:
            self.rows.append(
                {
                    "what": what,
                    "t": start,
                    "ms": (self.now() - start) * 1000,
                    "status": status,
                    "error": error,
                }
            )
        return r


def token(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def sign_in(base: str, login: str) -> tuple[requests.Session, str]:
    s = requests.Session()
    page = s.get(base + "/login", timeout=120)
    r = s.post(
        base + "/login",
        data={"username": login, "password": PASSWORD, "csrf_token": token(page.text)},
        timeout=120,
    )
    r.raise_for_status()
    return s, token(s.get(f"{base}/exercises/{SLUG}", timeout=120).text)


def plan(logins: list[str], uploads: int, window: float, rng: random.Random) -> list[dict]:
    """Upload times (density growing linearly towards the deadline), students, contents."""
    times = sorted(window * rng.random() ** 0.5 for _ in range(uploads))
    owners = [logins[i % len(logins)] for i in range(uploads)]
    rng.shuffle(owners)
    kinds, weights = zip(*[(k, v[0]) for k, v in KINDS.items()])
    events, last = [], {}
    for t, student in zip(times, owners):
        kind = rng.choices(kinds, weights)[0]
        if kind == "same_again" and student not in last:
            kind = "reference"
        data = last[student] if kind == "same_again" else KINDS[kind][1]
        last[student] = data
        events.append({"t": t, "student": student, "kind": kind, "data": data})
    return events


def pct(values: list[float], p: float) -> float | None:
    if not values:
        return None
    values = sorted(values)
    return values[min(len(values) - 1, max(0, int(round(p / 100 * len(values) + 0.5)) - 1))]


def summary(values: list[float]) -> dict:
    return {
        "n": len(values),
        "median": pct(values, 50),
        "p90": pct(values, 90),
        "p99": pct(values, 99),
        "max": max(values) if values else None,
    }


def run(args) -> dict:
    rng = random.Random(args.seed)
    work = Path(tempfile.mkdtemp(prefix="pgrader-burst-"))
    try:
        return _run(args, rng, work)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
        else:
            print(f"kept {work}", file=sys.stderr)


def _run(args, rng: random.Random, work: Path) -> dict:
    course = work / "course"
    course.mkdir()
    t_setup = time.monotonic()
    logins = make_course(course, args.students, args.grader)
    server = Server(course, args.jobs, args.backend, args.grader)
    load_before = os.getloadavg()
    try:
        with ThreadPoolExecutor(16) as pool:
            sessions = dict(zip(logins, pool.map(lambda n: sign_in(server.url, n), logins)))
        prof, _ = sign_in(server.url, "prof")
        print(f"set up in {time.monotonic() - t_setup:.0f} s; the burst begins", file=sys.stderr)
        rec = Recorder()
        busy0, tree0 = machine_busy(), tree_cpu(server.proc.pid)
        events = plan(logins, args.uploads, args.window, rng)
        accepted: list[dict] = []  # uploads with their attempt number
        waiting: queue.PriorityQueue = queue.PriorityQueue()  # (when to poll, seq, upload)
        seq = iter(range(10**9))
        done = threading.Event()
        lock = threading.Lock()

        def upload(ev: dict) -> None:
            session, csrf = sessions[ev["student"]]
            r = rec.request(
                "upload",
                session,
                "POST",
                f"{server.url}/exercises/{SLUG}/submit",
                ok=(303,),
                files={"submission": ("solution.py", ev["data"])},
                data={"csrf_token": csrf},
            )
            if r is not None and r.status_code == 303:
                number = int(r.headers["Location"].rsplit("/", 1)[1])
                item = {**ev, "attempt": number, "sent": rec.now(), "polls": 0}
                with lock:
                    accepted.append(item)
                    waiting.put((rec.now() + 1.0, next(seq), item))

        def poller() -> None:
            while not done.is_set():
                try:
                    due, n, item = waiting.get(timeout=0.5)
                except queue.Empty:
                    continue
                if due > rec.now():  # the earliest is not due yet: wait for it
                    waiting.put((due, n, item))
                    time.sleep(max(0.0, min(0.2, due - rec.now())))
                    continue
                session = sessions[item["student"]][0]
                r = rec.request(
                    "status",
                    session,
                    "GET",
                    f"{server.url}/api/exercises/{SLUG}/attempts/{item['attempt']}",
                )
                state = r.json().get("status") if r is not None and r.ok else None
                if state in ("graded", "refused"):
                    item["seen_final"] = rec.now()
                    continue
                item["polls"] += 1
                item["waited"] = 0 if state == "running" else item.get("waited", 0) + 1
                with lock:
                    waiting.put((rec.now() + min(5.0, 1.25 ** item["waited"]), next(seq), item))

        def viewer() -> None:
            while not done.wait(POLL_PAGE):
                with lock:
                    pick = rng.choice(accepted) if accepted else None
                if pick is not None:
                    rec.request(
                        "attempt page",
                        sessions[pick["student"]][0],
                        "GET",
                        f"{server.url}/exercises/{SLUG}/attempts/{pick['attempt']}",
                    )
                rec.request("dashboard", prof, "GET", f"{server.url}/instructor/exercises/{SLUG}")

        threads = [threading.Thread(target=poller, daemon=True) for _ in range(8)]
        threads.append(threading.Thread(target=viewer, daemon=True))
        for t in threads:
            t.start()
        with ThreadPoolExecutor(IN_FLIGHT) as pool:
            for ev in events:
                delay = ev["t"] - rec.now()
                if delay > 0:
                    time.sleep(delay)
                pool.submit(upload, ev)
        window_end = rec.now()
        print(
            f"{len(accepted)} uploads accepted in {window_end:.0f} s; waiting for grading",
            file=sys.stderr,
        )
        deadline = time.monotonic() + args.drain
        while time.monotonic() < deadline:
            with lock:
                left = [a for a in accepted if "seen_final" not in a]
            if not left:
                break
            time.sleep(0.5)
        drained = rec.now()
        busy1, tree1 = machine_busy(), tree_cpu(server.proc.pid)
        done.set()
        for t in threads:
            t.join(timeout=30)
    finally:
        server.stop()
    load_after = os.getloadavg()
    graded = max(1, len(accepted))
    cpu = {
        "machine busy s": busy1 - busy0,
        "machine capacity s": drained * (os.cpu_count() or 1),
        "grader serve tree s": tree1 - tree0,
        "machine busy s per upload": (busy1 - busy0) / graded,
    }
    return report(
        args, course, rec, accepted, events, window_end, drained, load_before, load_after, cpu
    )


def machine_busy() -> float:
    """CPU seconds the whole machine has been busy (every process: /proc/stat, not idle/iowait)."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def tree_cpu(pid: int) -> float:
    """CPU seconds of `pid` and its descendants (living, and those they have reaped)."""
    import psutil

    total = 0.0
    try:
        root = psutil.Process(pid)
        for proc in [root, *root.children(recursive=True)]:
            try:
                t = proc.cpu_times()
                total += t.user + t.system + t.children_user + t.children_system
            except psutil.Error:
                pass
    except psutil.Error:
        pass
    return total


def grader_location(grader: str) -> str:
    """Where the grader that `grader serve` runs comes from."""
    proc = subprocess.run(
        [str(Path(grader).parent / "python"), "-c", "import grader; print(grader.__file__)"],
        capture_output=True,
        text=True,
        cwd="/",
    )
    return str(Path(proc.stdout.strip()).parent.parent) if proc.returncode == 0 else "?"


def report(
    args,
    course: Path,
    rec: Recorder,
    accepted,
    events,
    window_end,
    drained,
    load_before,
    load_after,
    cpu: dict,
) -> dict:
    db = sqlite3.connect(course / "grader.db")
    subs = db.execute(
        "select s.id, st.name, s.attempt, s.received_at from submissions s "
        "join students st on st.id = s.student_id"
    ).fetchall()
    gradings = dict(
        db.execute("select submission_id, count(*) from gradings group by submission_id").fetchall()
    )
    jobs = db.execute(
        "select submission_id, status, created_at, finished_at, started_at from jobs"
    ).fetchall()
    statuses = dict(db.execute("select submission_id, status from gradings").fetchall())
    db.close()
    by_attempt = {(a["student"], a["attempt"]): a for a in accepted}
    sub_kind = {sid: by_attempt.get((name, n), {}).get("kind") for sid, name, n, _ in subs}

    def ts(text: str) -> dt.datetime:
        value = dt.datetime.fromisoformat(text)
        return value if value.tzinfo else value.replace(tzinfo=dt.UTC)

    received = {sid: ts(r) for sid, _, _, r in subs}
    feedback, queued, grading = {}, {}, {}
    for sid, status, _, finished, started in jobs:
        if status == "graded" and finished:
            feedback[sid] = (ts(finished) - received[sid]).total_seconds()
            if started:
                queued[sid] = (ts(started) - received[sid]).total_seconds()
                grading[sid] = (ts(finished) - ts(started)).total_seconds()
    by_kind = {
        k: summary([v for sid, v in feedback.items() if sub_kind.get(sid) == k]) for k in KINDS
    }
    client_seen = [a["seen_final"] - a["sent"] for a in accepted if "seen_final" in a]
    during = [r for r in rec.rows if r["t"] <= window_end]
    latency = {
        what: {
            "during burst": summary([r["ms"] for r in during if r["what"] == what]),
            "whole run": summary([r["ms"] for r in rec.rows if r["what"] == what]),
        }
        for what in ("upload", "status", "attempt page", "dashboard")
    }
    errors = [r for r in rec.rows if r["error"]]
    kinds_sent = {k: sum(e["kind"] == k for e in events) for k in KINDS}
    return {
        "command": "scripts/bench_burst.py " + " ".join(sys.argv[1:]),
        "when": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
            "load before": load_before,
            "load after": load_after,
        },
        "label": args.label,
        "grader": grader_location(args.grader),
        "private core locks": bool(os.environ.get("PGRADER_CORES_DIR")),
        "settings": {
            "students": args.students,
            "uploads planned": args.uploads,
            "window s": args.window,
            "grading threads": args.jobs,
            "backend": args.backend,
            "seed": args.seed,
        },
        "uploads": {
            "planned": len(events),
            "accepted": len(accepted),
            "by kind": kinds_sent,
            "last accepted at s": max((a["sent"] for a in accepted), default=None),
        },
        "exactly once": {
            "attempts in the store": len(subs),
            "attempts with exactly one grading": sum(gradings.get(sid) == 1 for sid, *_ in subs),
            "attempts with more than one grading": sum(
                gradings.get(sid, 0) > 1 for sid, *_ in subs
            ),
            "attempts with no grading": sum(sid not in gradings for sid, *_ in subs),
            "jobs": len(jobs),
            "jobs graded": sum(j[1] == "graded" for j in jobs),
            "refused": sum(v == "refused" for v in statuses.values()),
        },
        "request errors": {"count": len(errors), "first": errors[:10], "requests": len(rec.rows)},
        "latency ms": latency,
        "upload to feedback s (server)": {"all": summary(list(feedback.values())), **by_kind},
        "waited for a grading thread s": summary(list(queued.values())),
        "grading s (claimed to finished)": summary(list(grading.values())),
        "cpu": cpu,
        "upload to feedback s (seen by the polling client)": summary(client_seen),
        "burst s": window_end,
        "all graded at s": drained,
    }


def render(data: dict) -> str:
    def f(x, unit=""):
        return (
            "-"
            if x is None
            else f"{x:.0f}{unit}"
            if x >= 100
            else f"{x:.2g}{unit}"
            if x < 10
            else f"{x:.1f}{unit}"
        )

    lat = data["latency ms"]
    once = data["exactly once"]
    up = data["uploads"]
    fb = data["upload to feedback s (server)"]
    m = data["machine"]
    lines = [
        "# A deadline burst on one machine",
        "",
        f"Measured by `{data['command']}` on {data['when']} (do not edit: rerun the script).",
        "",
        f"Machine: {m['cpus']} CPUs, {m['platform']}, Python {m['python']}; load average before "
        f"{', '.join(f'{x:.2f}' for x in m['load before'])}, after "
        f"{', '.join(f'{x:.2f}' for x in m['load after'])}. The machine is shared with two other "
        "engineers' work, so the load is not the benchmark's alone, and the client (this script: "
        "polling threads, uploads) runs on the same 2 cores as the server and its grading.",
        "",
        f"One `grader serve` ({data['settings']['backend']} backend, "
        f"{data['settings']['grading threads']} grading threads, SQLite store), "
        f"{data['settings']['students']} roster students each signed in, "
        f"{up['planned']} uploads of `{SLUG}` planned within {data['settings']['window s']} s, "
        "more towards the deadline: "
        + ", ".join(f"{n} {k.replace('_', ' ')}" for k, n in up["by kind"].items())
        + ".",
        "",
        "## Every attempt graded exactly once, no request error",
        "",
        "| | |",
        "|---|---|",
        f"| uploads accepted | {up['accepted']} of {up['planned']} (the last {f(up['last accepted at s'], ' s')} after the start) |",
        f"| attempts in the store | {once['attempts in the store']} |",
        f"| with exactly one grading | {once['attempts with exactly one grading']} ({once['refused']} of them refused at intake) |",
        f"| with more than one grading | {once['attempts with more than one grading']} |",
        f"| with none | {once['attempts with no grading']} |",
        f"| jobs / graded | {once['jobs']} / {once['jobs graded']} |",
        f"| request errors | {data['request errors']['count']} of {data['request errors']['requests']} requests |",
        f"| burst (upload window) | {f(data['burst s'], ' s')} |",
        f"| every attempt graded after | {f(data['all graded at s'], ' s')} |",
        "",
        "## Page latency (ms)",
        "",
        "| request | during the burst: n | median | p90 | p99 | max | whole run: p99 |",
        "|---|---|---|---|---|---|---|",
    ]
    for what, row in lat.items():
        d, w = row["during burst"], row["whole run"]
        lines.append(
            f"| {what} | {d['n']} | {f(d['median'])} | {f(d['p90'])} | {f(d['p99'])} | "
            f"{f(d['max'])} | {f(w['p99'])} |"
        )
    lines += [
        "",
        "## Upload to feedback (s)",
        "",
        "From the server's clock: the grading finished, minus the upload received.",
        "",
        "| uploaded | n | median | p90 | p99 | max |",
        "|---|---|---|---|---|---|",
    ]
    for what, row in fb.items():
        lines.append(
            f"| {what.replace('_', ' ')} | {row['n']} | {f(row['median'])} | "
            f"{f(row['p90'])} | {f(row['p99'])} | {f(row['max'])} |"
        )
    seen = data["upload to feedback s (seen by the polling client)"]
    lines += [
        "",
        f"As the polling client saw it (includes its poll interval): median "
        f"{f(seen['median'], ' s')}, p90 {f(seen['p90'], ' s')}, max {f(seen['max'], ' s')}.",
        "",
    ]
    if "cpu" in data:
        q, g, c = (
            data["waited for a grading thread s"],
            data["grading s (claimed to finished)"],
            data["cpu"],
        )
        lines += [
            "## Where the time went",
            "",
            "| | n | median | p90 | max |",
            "|---|---|---|---|---|",
            f"| waited for a grading thread (s) | {q['n']} | {f(q['median'])} | {f(q['p90'])} | "
            f"{f(q['max'])} |",
            f"| graded in (s, claimed to finished) | {g['n']} | {f(g['median'])} | "
            f"{f(g['p90'])} | {f(g['max'])} |",
            "",
            f"From the first upload until every attempt was graded the machine was busy "
            f"{f(c['machine busy s'], ' CPU s')} of {f(c['machine capacity s'], ' CPU s')} "
            f"({f(c['machine busy s per upload'], ' CPU s')} per upload, whoever spent it: the "
            f"other engineers' work included), the `grader serve` tree "
            f"{f(c['grader serve tree s'], ' CPU s')} (the containers and the Docker engine "
            "are not in it).",
            "",
            f"Grader: `{data.get('grader', '?')}`"
            + (f", run labelled `{data['label']}`" if data.get("label") else "")
            + (
                "; private core locks (PGRADER_CORES_DIR): other graders on this host did not "
                "hold the sandbox's cores"
                if data.get("private core locks")
                else ""
            )
            + ".",
            "",
        ]
    return "\n".join(lines)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--students", type=int, default=300)
    p.add_argument("--uploads", type=int, default=1000)
    p.add_argument("--window", type=float, default=600.0)
    p.add_argument("--jobs", type=int, default=2)
    p.add_argument("--backend", default="local", choices=["local", "docker"])
    p.add_argument("--drain", type=float, default=7200.0)
    p.add_argument("--seed", type=int, default=15)
    p.add_argument("--keep", action="store_true", help="keep the temporary course")
    p.add_argument("--label", default="", help="names the run in the report")
    p.add_argument("--before", type=Path, help="an older checkout with its .venv (before/after)")
    p.add_argument("--rounds", type=int, default=1, help="runs per grader with --before")
    p.add_argument("--out", help="write OUT.md and OUT.json (default: print the report)")
    args = p.parse_args()
    if not os.environ.get("PGRADER_CORES_DIR"):
        os.environ["PGRADER_CORES_DIR"] = tempfile.mkdtemp(prefix="pgrader-burst-cores-")
    if args.before is None:
        args.grader = GRADER
        data = run(args)
        runs = [data]
        text = render(data)
    else:
        graders = {
            "after": GRADER,
            "before": str(args.before.resolve() / ".venv" / "bin" / "grader"),
        }
        order = [("after", "before"), ("before", "after")]
        runs = []
        for i in range(args.rounds):
            for label in order[i % 2]:
                args.grader, args.label = graders[label], label
                print(f"round {i + 1}: {label}", file=sys.stderr)
                runs.append(run(args))
        data = {"command": runs[0]["command"], "runs": runs}
        text = render_side_by_side(runs)
    if args.out:
        Path(args.out + ".json").write_text(json.dumps(data, indent=1, default=str) + "\n")
        Path(args.out + ".md").write_text(text)
    print(text)
    ok = all(
        d["exactly once"]["attempts with exactly one grading"]
        == d["uploads"]["accepted"]
        == d["uploads"]["planned"]
        and not d["request errors"]["count"]
        for d in runs
    )
    return 0 if ok else 1


def render_side_by_side(runs: list[dict]) -> str:
    """One row per run (in the order run), then each run's full report."""

    def f(x):
        return "-" if x is None else f"{x:.2f}"

    lines = [
        "# A deadline burst on one machine: before and after, side by side",
        "",
        f"Measured by `{runs[0]['command']}` from {runs[0]['when']} to {runs[-1]['when']} (do "
        "not edit: rerun the script). Each run: a fresh course and `grader serve`, the same "
        "uploads (same seed) at the same times; the graders alternate so that both see the "
        "machine in the same state on average. Seconds; CPU s per upload is the whole "
        "machine's (every process, other engineers' work included when the host is shared).",
        "",
        "| run | grader | load before (1 min) | upload to feedback: median | p90 | max | "
        "waited for a thread: median | graded in: median | machine CPU s per upload | "
        "`grader serve` tree CPU s per upload |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for i, d in enumerate(runs, 1):
        fb = d["upload to feedback s (server)"]["all"]
        n = max(1, d["uploads"]["accepted"])
        lines.append(
            f"| {i} | {d['label']} (`{d['grader']}`) | {d['machine']['load before'][0]:.2f} | "
            f"{f(fb['median'])} | {f(fb['p90'])} | {f(fb['max'])} | "
            f"{f(d['waited for a grading thread s']['median'])} | "
            f"{f(d['grading s (claimed to finished)']['median'])} | "
            f"{f(d['cpu']['machine busy s per upload'])} | "
            f"{f(d['cpu']['grader serve tree s'] / n)} |"
        )
    for label in ("after", "before"):
        ours = [d for d in runs if d["label"] == label]
        medians = [d["upload to feedback s (server)"]["all"]["median"] for d in ours]
        medians = [m for m in medians if m is not None]
        if medians:
            lines.append("")
            lines.append(
                f"- {label}: median of the runs' medians {f(statistics.median(medians))} s "
                f"({', '.join(f(m) for m in medians)})."
            )
    for i, d in enumerate(runs, 1):
        body = render(d).split("\n", 1)[1]
        lines += ["", f"# Run {i}: {d['label']}", body]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
