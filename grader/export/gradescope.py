"""Gradescope's results.json, one per student: OUT/<student>/results.json."""

from __future__ import annotations

import json
from pathlib import Path


def gradescope(current, out: Path, why: dict[str, str] | None = None) -> str:
    """A results.json per graded student; those not graded (say, a GPU exercise graded where
    there is no GPU) get none, and are named in the message, never given a number."""
    written, skipped = 0, []
    for c in current:
        if c.grading is None:
            skipped.append(f"{c.student} ({(why or {}).get(c.student) or 'no grading recorded'})")
            continue
        folder = out / c.student
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "results.json").write_text(json.dumps(c.grading.results, indent=1))
        written += 1
    left = f"; not graded, so not written: {', '.join(skipped)}" if skipped else ""
    return f"{written} results.json file(s) under {out}{left}"
