"""What the pages show, built from store rows: the statement, one attempt's feedback, and the
student's own files with the lines the evidence points at.

Test results go through `grader.feedback`'s cleaning (ANSI and control characters removed,
lengths capped, hidden-test details withheld per `hidden_visibility`).
"""

from __future__ import annotations

import dataclasses
import shutil
import tempfile
from pathlib import Path

import mistune
from markupsafe import Markup

from grader.course import Exercise
from grader.errors import SubmissionError
from grader.feedback import _clean, _dicts, _test_view, clean_text
from grader.intake import prepare_submission
from grader.portal import plots
from grader.results import SubmissionResult
from grader.store.models import Grading

MAX_LINES = 1500  # of one file shown
MAX_LINE = 300  # characters of one line shown

# Raw HTML in a statement is shown as text, and javascript:/data: links are disarmed.
_markdown = mistune.create_markdown(escape=True, plugins=["table", "strikethrough"])


def statement_html(exercise: Exercise) -> Markup:
    """The exercise's statement (its README, Markdown) as HTML, without a first heading that
    only repeats the title the page already shows."""
    if not exercise.statement.is_file():
        return Markup("")
    text = exercise.statement.read_text(encoding="utf-8")
    first, _, rest = text.partition("\n")
    if first.startswith("# ") and first[2:].strip() == exercise.title.strip():
        text = rest
    return Markup(_markdown(text))


def feedback(grading: Grading, exercise: Exercise, instructor: bool) -> dict:
    """One graded attempt's feedback: summary, the run's seed, per-test views (with plots),
    or the reason it was refused."""
    result = SubmissionResult.from_json(grading.results)
    shown = dataclasses.replace(exercise, hidden_visibility="visible") if instructor else exercise
    tests = []
    for t in result.tests:
        tv = _test_view(t, shown)
        if not tv["hidden"]:
            tv["speedup"] = plots.speedup(pts) if (pts := plots.speedup_points(t.details)) else None
            schedule = _clean(t.details.get("schedule")) if isinstance(t.details, dict) else None
            tv["switches"] = _dicts((schedule or {}).get("interleavings"))
        tests.append(tv)
    failing = [t for t in tests if t["verdict"] != "passed"]
    return {
        "tests": tests if not result.error else [],
        "summary": clean_text(result.summary()),
        "seed": result.seed,
        "refused": clean_text(result.error) if result.error else None,
        "public_failed": any(t["suite"] == "public" for t in failing),
        "hidden_failed": any(t["suite"] == "hidden" for t in failing),
        "late": (
            f"Handed in {result.late_days} day(s) late: -{result.penalty:.0%}."
            if result.late_days
            else None
        ),
    }


def _marks(tests: list[dict]) -> dict[tuple[str, int], list[tuple[str, str]]]:
    """(file, line) -> [(kind, what)] for every line of the student's the evidence names: one
    short note per kind of finding (race, error, stuck), however many tests found it."""
    found: dict[tuple[str, int], dict[str, dict[str, set]]] = {}

    def add(file, line, kind: str, what: str, who: str = "") -> None:
        if isinstance(file, str) and isinstance(line, int) and not isinstance(line, bool):
            found.setdefault((file, line), {}).setdefault(kind, {}).setdefault(what, set()).add(
                str(who)
            )

    for t in tests:
        if t["hidden"]:
            continue
        for race in t.get("races") or []:
            for w in race.get("writes") or []:
                held = "holding " + ", ".join(w["locks"]) if w.get("locks") else "holding no lock"
                add(
                    w.get("file"),
                    w.get("line"),
                    "race",
                    f"{race.get('variable')} written {held} by {{who}}",
                    w.get("thread"),
                )
        for step in t.get("switches") or []:
            add(
                step.get("file"),
                step.get("line"),
                "race",
                "updates lost: {who} switched out here mid-update",
                step.get("paused"),
            )
        for exc in [t.get("exception")] + list(t.get("uncaught") or []):
            if exc and exc.get("frames"):
                f = exc["frames"][-1]
                add(
                    f.get("file"),
                    f.get("line"),
                    "error",
                    f"{exc.get('type')} raised here ({{who}})",
                    exc.get("name") or "the call",
                )
        for proc in t.get("stacks") or []:
            for th in proc.get("threads") or []:
                if th.get("frames"):
                    f = th["frames"][-1]
                    add(
                        f.get("file"),
                        f.get("line"),
                        "stuck",
                        "stuck here: thread {who}",
                        th.get("thread"),
                    )
        for cycle in t.get("lock_cycles") or []:
            for site in cycle.get("sites") or []:
                add(
                    site.get("file"),
                    site.get("line"),
                    "stuck",
                    "a lock-order cycle: thread {who} takes a lock here",
                    site.get("thread"),
                )

    def names(who: set) -> str:
        return ", ".join(sorted(who)[:4]) + (f" and {len(who) - 4} more" if len(who) > 4 else "")

    return {
        where: [
            (kind, what.replace("{who}", names(who)))
            for kind, whats in kinds.items()
            for what, who in whats.items()
        ]
        for where, kinds in found.items()
    }


def source_files(upload: Path, exercise: Exercise, tests: list[dict]) -> list[dict]:
    """The student's files that the evidence points at, each line numbered, the lines named
    by the evidence marked (`kind`: race, error or stuck), each with an anchor."""
    marks = _marks(tests)
    named = sorted({file for file, _ in marks})
    if not named or not upload.exists():
        return []
    work = Path(tempfile.mkdtemp(prefix="pgrader-view-"))
    try:
        folder = prepare_submission(upload, exercise.files, work / "submission")
        shown = []
        for i, name in enumerate(named):
            path = folder / name
            if ".." in Path(name).parts or not path.is_file() or path.is_symlink():
                continue
            text = path.read_text(encoding="utf-8", errors="replace").splitlines()[:MAX_LINES]
            lines = []
            for n, code in enumerate(text, 1):
                found = marks.get((name, n), [])
                lines.append(
                    {
                        "n": n,
                        "code": clean_text(code, MAX_LINE),
                        "marks": found,
                        "kind": found[0][0] if found else "",
                        "anchor": f"f{i}-L{n}",
                    }
                )
            shown.append(
                {
                    "name": clean_text(name, 200),
                    "lines": lines,
                    "index": i,
                    "anchors": {(name, n): f"f{i}-L{n}" for (f, n) in marks if f == name},
                }
            )
        return shown
    except (SubmissionError, OSError):
        return []
    finally:
        shutil.rmtree(work, ignore_errors=True)


def anchors(files: list[dict]) -> dict[tuple[str, int], str]:
    return {key: value for f in files for key, value in f["anchors"].items()}
