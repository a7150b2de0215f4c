"""Gradescope's results.json, one per student: OUT/<student>/results.json."""

from __future__ import annotations

import json
from pathlib import Path


def gradescope(current, out: Path) -> str:
    written = 0
    for c in current:
        if c.grading is None:
            continue
        folder = out / c.student
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "results.json").write_text(json.dumps(c.grading.results, indent=1))
        written += 1
    return f"{written} results.json file(s) under {out}"
