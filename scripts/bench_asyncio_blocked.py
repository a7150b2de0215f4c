"""The asyncio check's blocked sums (grader/checks/asyncio_blocked.py): what they cost, what they
flag on correct code on a loaded machine, and what they catch.

    .venv/bin/python scripts/bench_asyncio_blocked.py [--runs 5] [--hogs 2] [--out docs/bench-asyncio-blocked.md]

In this process, no sandbox: each workload is a coroutine of a generated solution.py (so that it
counts as the student's code), run with `asyncio.run` under the check, `runs` times, with `hogs`
busy processes (`while True: pass`) running throughout. Cost: the median wall time of a workload
with the sums on (default `slice_floor`) over the same with them off (`slice_floor` 1e9; the
check otherwise the same). Correct code: every entry of the report held against the student
(any kind, not only "slices") is a false positive. Blocking in slices: runs where it was found.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import importlib.util
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from grader.checks import asyncio_watch  # noqa: E402

WORKLOADS = textwrap.dedent("""
    import asyncio, gc, logging, queue, sys, threading, time

    # ---- correct code
    async def tiny_steps():  # 30 tasks x 300 steps of microseconds
        async def spin():
            for _ in range(300):
                await asyncio.sleep(0)
        await asyncio.gather(*(spin() for _ in range(30)))

    async def cpu_steps():  # 300 steps of about 1 ms of computing
        for _ in range(300):
            sum(i * i for i in range(6000))
            await asyncio.sleep(0)

    async def to_thread_many():  # 200 calls handed to the default pool
        async def one():
            await asyncio.to_thread(time.sleep, 0.002)
        for _ in range(5):
            await asyncio.gather(*(one() for _ in range(40)))

    async def to_thread_cpu():  # two threads computing while a task ticks and prints
        def crunch():
            return sum(i * i for i in range(1_000_000))
        async def ticker():
            for i in range(100):
                print("tick", i)
                await asyncio.sleep(0.001)
        await asyncio.gather(asyncio.to_thread(crunch), asyncio.to_thread(crunch), ticker())

    async def garbage_and_logging():
        log = logging.getLogger("bench")
        junk = []
        for i in range(300):
            log.warning("item %d %s", i, "y" * 80)
            junk.append([[j] for j in range(500)])
            if i % 50 == 0:
                gc.collect()
            await asyncio.sleep(0)

    async def fanout():  # the async_fanout reference's shape
        gate = asyncio.Semaphore(3)
        async def fetch(u):
            await asyncio.sleep(0.002)
            return u
        async def one(u):
            async with gate:
                return await fetch(u)
        for _ in range(10):
            await asyncio.gather(*(one(u) for u in range(30)))

    # ---- blocking in slices (each under 0.05 s)
    async def sleep_slices():
        async def one():
            for _ in range(4):
                time.sleep(0.025)
                await asyncio.sleep(0)
        await asyncio.gather(*(one() for _ in range(3)))

    async def slices_across_tasks():
        async def one():
            time.sleep(0.02)
            await asyncio.sleep(0)
        await asyncio.gather(*(one() for _ in range(5)))

    async def queue_get_slices():
        q = queue.Queue()
        def feed():
            for i in range(4):
                time.sleep(0.025)
                q.put(i)
        threading.Thread(target=feed).start()
        for _ in range(4):
            q.get()
            await asyncio.sleep(0)

    async def millisecond_slices():
        for _ in range(100):
            time.sleep(0.001)
            await asyncio.sleep(0)
""")

CORRECT = [
    "tiny_steps",
    "cpu_steps",
    "to_thread_many",
    "to_thread_cpu",
    "garbage_and_logging",
    "fanout",
]
BLOCKING = ["sleep_slices", "slices_across_tasks", "queue_get_slices", "millisecond_slices"]


def run_once(mod, workdir: str, name: str, floor: float) -> tuple[float, list[dict]]:
    check = asyncio_watch.start({"slice_floor": floor}, workdir)
    t0 = time.perf_counter()
    asyncio.run(getattr(mod, name)())
    wall = time.perf_counter() - t0
    report = check.stop()
    return wall, [b for b in report["blocking"] if b.get("student")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--hogs", type=int, default=2)
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "bench-asyncio-blocked.md")
    args = parser.parse_args()
    workdir = tempfile.mkdtemp(prefix="bench-asyncio-")
    path = Path(workdir) / "solution.py"
    path.write_text(WORKLOADS)
    spec = importlib.util.spec_from_file_location("solution", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    sys.stdout = open(os.devnull, "w")  # the workloads print
    hogs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(args.hogs)]
    rows = []
    try:
        time.sleep(0.5)
        load = os.getloadavg()[0]
        for name in CORRECT + BLOCKING:
            on, off, flagged, kinds = [], [], 0, set()
            for _ in range(args.runs):
                wall, found = run_once(mod, workdir, name, 1e9)
                off.append(wall)
                wall, found = run_once(mod, workdir, name, 0.0005)
                on.append(wall)
                flagged += bool(found)
                kinds.update(b["kind"] for b in found)
            rows.append(
                (
                    name,
                    name in BLOCKING,
                    statistics.median(off),
                    statistics.median(on),
                    flagged,
                    sorted(kinds),
                )
            )
    finally:
        for hog in hogs:
            hog.kill()
            hog.wait()
        sys.stdout = sys.__stdout__
    now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        "# The asyncio check's blocked sums: cost, false positives, detection",
        "",
        f"Generated by `scripts/bench_asyncio_blocked.py --runs {args.runs} --hogs {args.hogs}` "
        f"on {now} ({os.cpu_count()} cores, {platform.machine()}, Python "
        f"{platform.python_version()}, load {load:.2f} when it started; {args.hogs} busy "
        "processes ran throughout). In one process, no sandbox. Do not edit by hand.",
        "",
        "Off: the check without the sums (`slice_floor` 1e9); on: with them (0.0005). "
        "Flagged: runs (of the on runs) whose report held anything against the student (any "
        "kind): on correct code each one is a false positive.",
        "",
        "| Workload | Code | Median off (s) | Median on (s) | On/off | Flagged | Kinds |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, bad, off, on, flagged, kinds in rows:
        lines.append(
            f"| `{name}` | {'blocks in slices' if bad else 'correct'} | {off:.3f} | {on:.3f} | "
            f"{on / off:.2f} | {flagged}/{args.runs} | {', '.join(kinds) or '-'} |"
        )
    args.out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
