#!/usr/bin/env python3
"""Every pair of the similarity test material, as `grader similarity` scores it.

    .venv/bin/python scripts/bench_similarity.py

For locked_counter and mp_queue_fibonacci, the sample class and tests/similarity_class/ (honest
solutions written independently, crafted copies: its README says who copied whom) are recorded
in a temporary store and compared by `grader.similarity.run` with the default settings; every
pair is listed with both shares, both matched token counts and whether it is reported at the
default threshold. Then a class of `--class-size` (default 300) made from that material (each
submission one of its solutions with a few lines of its own, seeded) is compared the same way
and timed, recording included: what an instructor waits for (the portal's button runs it in
the request). Writes docs/bench-similarity.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import random
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
COPIES = {("olga", "pete"), ("vic", "wes")}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--class-size", type=int, default=300)
    args = ap.parse_args()
    from grader.course import load_course
    from grader.recorded import raw_hash
    from grader.similarity import compare
    from grader.similarity.run import run_similarity
    from grader.store import Store

    course = load_course(ROOT)
    lines = [
        "# Similarity on the test material",
        "",
        "Written by `scripts/bench_similarity.py` (every pair; `copy` marks the crafted "
        f"copies; reported: at the default threshold {compare.THRESHOLD:.0%} with at "
        f"least {compare.MIN_TOKENS} matched tokens).",
        "",
    ]
    now = dt.datetime.now(dt.UTC)
    with tempfile.TemporaryDirectory() as tmp:
        for slug in ("locked_counter", "mp_queue_fibonacci"):
            store = Store(f"sqlite:///{tmp}/{slug}.db")
            folders = sorted(
                p
                for root in (
                    ROOT / "sample_class" / slug,
                    ROOT / "tests" / "similarity_class" / slug,
                )
                for p in root.iterdir()
                if p.is_dir()
            )
            for f in folders:
                store.record_submission(f.name, slug, raw_hash(f), now, 0, str(f))
            start = time.perf_counter()
            run = run_similarity(course, course.exercise(slug), store)
            took = time.perf_counter() - start
            pairs = store.similarity_pairs(run.id)
            honest = [p for p in pairs if (p.student_a, p.student_b) not in COPIES]
            lines += [
                f"## {slug}",
                "",
                f"{len(folders)} submissions, {len(pairs)} pairs, {took:.2f} s. Highest "
                f"share of a pair that is not a copy: {max(p.score for p in honest):.0%}; "
                "most tokens matched by one: "
                f"{max(max(p.tokens_a, p.tokens_b) for p in honest)}.",
                "",
                "| pair | share of A in B | of B in A | tokens A | tokens B | | reported |",
                "|---|---|---|---|---|---|---|",
            ]
            for p in pairs:
                if p.score == 0:
                    continue
                lines.append(
                    f"| {p.student_a} & {p.student_b} | {p.score_a:.0%} | "
                    f"{p.score_b:.0%} | {p.tokens_a} | {p.tokens_b} | "
                    f"{'copy' if (p.student_a, p.student_b) in COPIES else ''} | "
                    f"{'yes' if compare.flagged(p, compare.THRESHOLD) else 'no'} |"
                )
            zero = sum(p.score == 0 for p in pairs)
            lines += [
                "",
                f"The other {zero} pairs share nothing beyond the skeleton and the reference (0%).",
                "",
            ]
            store.close()
        slug = "mp_queue_fibonacci"
        bases = sorted((ROOT / "tests" / "similarity_class" / slug).glob("*/solution.py"))
        rng = random.Random(20261206)
        store = Store(f"sqlite:///{tmp}/big.db")
        for i in range(args.class_size):
            folder = Path(tmp) / "big" / f"s{i:03}"
            folder.mkdir(parents=True)
            own = "".join(
                f"\ndef helper_{i}_{j}(x):\n    return x * {rng.randint(2, 999)} - {j}\n"
                for j in range(rng.randint(1, 4))
            )
            (folder / "solution.py").write_text(rng.choice(bases).read_text() + own)
            store.record_submission(folder.name, slug, raw_hash(folder), now, 0, str(folder))
        start = time.perf_counter()
        run = run_similarity(course, course.exercise(slug), store)
        took = time.perf_counter() - start
        n = args.class_size
        lines += [
            f"## A class of {n}",
            "",
            f"{n} submissions of {slug} (each one of the material's solutions with 1 to 4 "
            f"lines of its own), {n * (n - 1) // 2} pairs: {took:.1f} s from reading the "
            "files to the run recorded in a SQLite store, on "
            f"{platform.machine()} / Python {platform.python_version()}, {os.cpu_count()} cores "
            "(shared with other work while it ran) "
            f"({len(store.similarity_pairs(run.id, compare.THRESHOLD, compare.MIN_TOKENS))}"
            " pairs reported: those who got the same solution).",
            "",
        ]
        store.close()
    out = ROOT / "docs" / "bench-similarity.md"
    out.write_text("\n".join(lines))
    print(out.read_text())


if __name__ == "__main__":
    main()
