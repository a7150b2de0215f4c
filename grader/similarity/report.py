"""The side-by-side view of a pair, and the standalone HTML report of a run.

Every file name, student name and line of code is student input: the view hands the
templates plain text segments (matched or not), never markup, and the templates are rendered
with autoescape, so nothing a student writes becomes HTML. The standalone report is one
self-contained page: the portal's stylesheet inlined, no script at all, and a
Content-Security-Policy that forbids scripts should anything slip through.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from jinja2 import ChoiceLoader, Environment, PackageLoader

from grader.course import Exercise, format_time
from grader.store.models import SimilarityPair, SimilarityRun

MAX_SIDE_BY_SIDE = 50  # pairs shown in full in the standalone report (all are in its table)
CSS = Path(__file__).resolve().parents[1] / "portal" / "static" / "portal.css"


@dataclass
class FileView:
    name: str
    segments: list[tuple[str, bool]]  # (text, matched)
    matched: int  # characters highlighted


@dataclass
class Side:
    student: str
    attempt: int
    share: float
    tokens: int
    files: list[FileView]
    skipped: list[str]


def _word(text: str, i: int) -> bool:
    return 0 <= i < len(text) and (text[i].isalnum() or text[i] == "_")


def _snap(text: str, start: int, end: int) -> tuple[int, int]:
    """A range widened to whole words (copydetect's offsets can cut a name in two)."""
    while start > 0 and _word(text, start - 1) and _word(text, start):
        start -= 1
    while end < len(text) and _word(text, end - 1) and _word(text, end):
        end += 1
    return start, end


def segments(text: str, ranges: list[list[int]]) -> list[tuple[str, bool]]:
    """`text` cut into plain and matched pieces at `ranges` (widened to whole words, merged,
    clipped to the text)."""
    out, at = [], 0
    for start, end in sorted(_snap(text, max(0, s), min(len(text), e)) for s, e in ranges):
        start = max(start, at)
        if end <= start:
            continue
        if start > at:
            out.append((text[at:start], False))
        out.append((text[start:end], True))
        at = end
    if at < len(text):
        out.append((text[at:], False))
    return out


def _side(run: SimilarityRun, pair: SimilarityPair, which: str) -> Side:
    student = getattr(pair, f"student_{which}")
    source = run.sources.get(student, {"files": {}, "skipped": [], "attempt": 0})
    spans = pair.spans.get(which, {})
    files = [
        FileView(
            name, segments(text, spans.get(name, [])), sum(e - s for s, e in spans.get(name, []))
        )
        for name, text in sorted(source["files"].items())
    ]
    return Side(
        student,
        source["attempt"],
        getattr(pair, f"score_{which}"),
        getattr(pair, f"tokens_{which}"),
        files,
        source["skipped"],
    )


def pair_view(run: SimilarityRun, pair: SimilarityPair) -> tuple[Side, Side]:
    return _side(run, pair, "a"), _side(run, pair, "b")


def _env() -> Environment:
    return Environment(
        loader=ChoiceLoader(
            [PackageLoader("grader", "templates"), PackageLoader("grader.portal", "templates")]
        ),
        autoescape=True,
    )


def write_report(
    exercise: Exercise,
    run: SimilarityRun,
    pairs: list[SimilarityPair],
    full: list[SimilarityPair],
    out: Path,
) -> Path:
    """The standalone report of `run`: the table of flagged `pairs`, and side by side those of
    them in `full` (their spans loaded), at most MAX_SIDE_BY_SIDE."""
    html = (
        _env()
        .get_template("similarity.html.j2")
        .render(
            ex=exercise,
            run=run,
            pairs=pairs,
            views=[(p, pair_view(run, p)) for p in full],
            left_out=max(0, len(pairs) - len(full)),
            css=CSS.read_text(encoding="utf-8"),
            link=lambda p: f"#pair-{p.id}",
            when=lambda t: format_time(t, exercise.timezone),
        )
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(html, encoding="utf-8")
    return out
