"""The student's feedback page: one self-contained HTML file rendered from a `SubmissionResult`.

Everything in a result may come from the student (output, file names, exception
messages), so the template is rendered with autoescape and every string is first
cleaned of ANSI escapes and control characters and capped in length.
"""

from __future__ import annotations

import datetime as dt
import pprint
import re
from functools import lru_cache
from pathlib import Path

import jinja2
from markupsafe import Markup, escape

from grader.course import Exercise, format_time
from grader.protocol import STALL_CPU_RATIO, STALL_DEADLOCK, Outcome
from grader.results import SubmissionResult, TestResult

MAX_TEXT = 20_000

# verdict -> (label, colour class, explanation shown next to the badge)
VERDICTS: dict[str, tuple[str, str, str]] = {
    Outcome.PASSED: ("Passed", "ok", ""),
    Outcome.FAILED: ("Failed", "bad", ""),
    Outcome.ERROR: ("Error", "bad", ""),
    Outcome.TIMEOUT: ("Timeout", "hang", "still running at the time limit"),
    Outcome.DEADLOCK: ("Deadlock", "hang", "threads blocked on each other"),
    Outcome.RACE: ("Race", "hang", "shared data updated without consistent locking"),
    Outcome.CRASHED: ("Crashed", "hang", "the Python process died"),
    Outcome.NOT_RUN: ("Not run", "skip", "this check could not run on the grader"),
    Outcome.GRADER_ERROR: ("Grader error", "platform", "not your fault, will be regraded"),
}

_ANSI = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]"  # CSI: colours, cursor moves
    r"|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?"  # OSC: titles, hyperlinks
    r"|\x1b[@-Z\\-_]?"  # other escapes, lone ESC
    r"|\x9b[0-?]*[ -/]*[@-~]"
)  # 8-bit CSI
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")


def clean_text(text, limit: int = MAX_TEXT) -> str:
    """Plain text: ANSI escapes and control characters (except newline and tab) removed, capped."""
    text = str(text).replace("\r\n", "\n").replace("\r", "\n")
    text = _CONTROL.sub("", _ANSI.sub("", text))
    if len(text) > limit:
        text = text[:limit] + f"\n... truncated ({len(text) - limit} more characters)"
    return text


def _clean(value):
    """A JSON-like value with every string (keys included) cleaned."""
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, dict):
        return {clean_text(k, 200): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    return value


def _show(value) -> str:
    """A value as text: strings as they are, anything else pretty-printed."""
    if isinstance(value, str):
        return value
    return clean_text(pprint.pformat(value, width=90, compact=True))


# Inside a check's report: its seed is derived from the run's (the only seed the page shows,
# the one `--seed` takes), and its trace is a hash for the platform's own tests.
INTERNAL = ("seed", "trace")


def _plain(value, depth: int = 0) -> str:
    """Evidence as plain lines (`key: value`, nested ones indented), never Python syntax."""
    pad = "  " * depth
    if isinstance(value, dict) and depth < 6:
        return (
            "\n".join(
                f"{pad}{k}:\n{_plain(v, depth + 1)}"
                if isinstance(v, (dict, list)) and v
                else f"{pad}{k}: {_plain(v)}"
                for k, v in value.items()
                if k not in INTERNAL
            )
            or f"{pad}-"
        )
    if isinstance(value, list) and depth < 6:
        if all(not isinstance(v, (dict, list)) for v in value):
            return pad + (", ".join(_plain(v) for v in value) or "-")
        return "\n".join(
            _plain(v, depth + 1) if isinstance(v, dict) else pad + "- " + _plain(v)
            for v in value[:50]
        )
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return clean_text(value if isinstance(value, str) else _num(value), 2000)


_CODE = re.compile(r"`([^`\n]{1,500})`")


def code_spans(text) -> Markup:
    """Text with `backticked` parts as <code>: escaped first, so nothing else becomes HTML."""
    return Markup(_CODE.sub(r"<code>\1</code>", str(escape(text))))


def _num(x) -> str:
    return f"{x:g}" if isinstance(x, (int, float)) else str(x)


def _dicts(value) -> list[dict]:
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def _names(value) -> list[str]:
    return [str(v) for v in value] if isinstance(value, list) else [str(value)] if value else []


def _trim(frames) -> tuple[list[dict], int]:
    """The student's frames, and how many others were dropped."""
    frames = _dicts(frames)
    mine = [f for f in frames if f.get("student") is True]
    return mine, len(frames) - len(mine)


def _stacks(stacks) -> list[dict]:
    """Per process: threads with student frames, and a count of the threads without any."""
    out = []
    for proc in _dicts(stacks):
        threads, others = [], 0
        for th in _dicts(proc.get("threads")):
            frames, hidden = _trim(th.get("frames"))
            if frames:
                threads.append({**th, "frames": frames, "hidden": hidden})
            else:
                others += 1
        out.append({**proc, "threads": threads, "others": others})
    return out


def details_hidden(test: TestResult, exercise: Exercise, now: dt.datetime | None = None) -> bool:
    """Whether a test's message and evidence are withheld from the student."""
    if test.suite != "hidden":
        return False
    if exercise.hidden_visibility == "hidden":
        return True
    if exercise.hidden_visibility == "after_due_date":
        now = now or dt.datetime.now(dt.UTC)
        return exercise.due is None or now < exercise.due
    return False


def _test_view(t: TestResult, exercise: Exercise) -> dict:
    label, css, note = VERDICTS.get(t.verdict, (t.verdict, "skip", ""))
    d = _clean(t.details if isinstance(t.details, dict) else {"details": t.details})
    view = {
        "name": clean_text(t.name, 500),
        "verdict": t.verdict,
        "label": label,
        "css": css,
        "note": note,
        "points": _num(t.points),
        "max_points": _num(t.max_points),
        "hidden": details_hidden(t, exercise),
        "suite": t.suite,
    }
    if view["hidden"]:
        return view
    exc = d.pop("exception", None)
    if isinstance(exc, dict):
        frames, hidden = _trim(exc.get("frames"))
        inner = (_dicts(exc.get("frames")) or [{}])[-1].get("student") is True
        exc = {
            "type": exc.get("type", ""),
            "message": exc.get("message", ""),
            "frames": frames,
            "hidden": hidden,
            "mark": "raised here" if inner else "your last line before the error",
        }
    elif exc is not None:
        d["exception"] = exc
    uncaught = []
    for u in _dicts(d.pop("uncaught", None)) if t.verdict != Outcome.PASSED else []:
        frames, hidden = _trim(u.get("frames"))
        uncaught.append(
            {
                **u,
                "frames": frames,
                "hidden": hidden,
                "what": "thread" if u.get("kind") == "thread" else "child process",
            }
        )
    ratio = d.pop(STALL_CPU_RATIO, None)
    ratio = ratio if isinstance(ratio, (int, float)) and not isinstance(ratio, bool) else None
    view.update(
        message=clean_text(t.message),
        seed=t.seed,
        exception=exc if isinstance(exc, dict) else None,
        stacks=_stacks(d.pop("stacks")) if isinstance(d.get("stacks"), list) else None,
        ratio=None if ratio is None else f"{ratio:.2f}",
        blocked=ratio is not None and ratio < STALL_DEADLOCK,
        expected=_show(d.pop("expected")) if "expected" in d else None,
        got=_show(d.pop("got")) if "got" in d else None,
        races=[
            {
                **r,
                "writes": [{**w, "locks": _names(w.get("locks"))} for w in _dicts(r.get("writes"))],
            }
            for r in _dicts(d.pop("races", None))
        ],
        lock_cycles=[
            {**c, "locks": _names(c.get("locks")), "sites": _dicts(c.get("sites"))}
            for c in _dicts(d.pop("lock_cycles", None))
        ],
        interleaving=[
            clean_text(x, 1000) for x in d.pop("interleaving", None) or [] if isinstance(x, str)
        ],
        stdout=_text(d.pop("stdout", "")),
        stderr=_text(d.pop("stderr", "")),
        uncaught=uncaught,
        other=[(k, _plain(v)) for k, v in d.items()],
    )
    return view


def _text(value) -> str:
    return value if isinstance(value, str) else _show(value) if value else ""


def _when(stamp: str, timezone: str = "UTC") -> str:
    try:
        return format_time(dt.datetime.fromisoformat(stamp), timezone, seconds=True)
    except (TypeError, ValueError):
        return clean_text(stamp, 100)


@lru_cache(maxsize=1)
def _env() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(Path(__file__).parent / "templates"),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["num"] = _num
    env.filters["code_spans"] = code_spans
    return env


def render_feedback(result: SubmissionResult, exercise: Exercise) -> str:
    """The feedback page for one graded submission, as a complete HTML document."""
    tests = [_test_view(t, exercise) for t in result.tests]
    fraction = result.score / result.max_score if result.max_score else 0.0
    return (
        _env()
        .get_template("feedback.html.j2")
        .render(
            r=result,
            ex=exercise,
            tests=tests,
            student=clean_text(result.student, 200),
            error=clean_text(result.error) if result.error else None,
            summary=clean_text(result.summary()),
            graded_at=_when(result.graded_at, exercise.timezone),
            percent=round(max(0.0, min(1.0, fraction)) * 100, 1),
            sandbox=[(k, _plain(v)) for k, v in _clean(result.sandbox or {}).items()],
        )
    )
