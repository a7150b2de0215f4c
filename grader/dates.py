"""`grader course dates`: the course's schedule, and moving it in time.

A course copied from last year, or a demo run on any day, needs dates that work today:
`--shift DAYS` moves every `opens` and `due` of course.toml by whole days, and `--start DATE`
(`YYYY-MM-DD`, `today`, `today-7`...) moves them so the earliest `opens` falls on DATE. Only
the values change: course.toml keeps its comments, order and date style, and is replaced in
one step. A running `grader serve` reads the new dates at its next request.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import tempfile
import tomllib
from pathlib import Path

from grader.course import Course, format_time
from grader.errors import GraderError

DATE_LINE = re.compile(r"^(\s*(?:opens|due)\s*=\s*)([0-9][0-9:TZtz+\-. ]*?[0-9Zz])(\s*(?:#.*)?)$")
RELATIVE = re.compile(r"today(?:([+-])(\d{1,4}))?")


def schedule(course: Course, now: dt.datetime | None = None) -> list[str]:
    """One line per exercise: opens, due, and where it stands now."""
    now = now or dt.datetime.now(dt.UTC)
    tz = course.timezone
    lines = [f"{course.name} ({course.term}), times in {tz}"]
    for ex in sorted(course.exercises.values(), key=lambda e: (e.opens or now, e.slug)):
        if ex.opens and now < ex.opens:
            state = "not open yet"
        elif ex.due is None or now <= ex.due:
            state = "open"
        elif now <= ex.due + dt.timedelta(days=course.late_policy.last_day):
            state = "late work accepted"
        else:
            state = "closed"
        lines.append(
            f"  {ex.slug:<24} opens {format_time(ex.opens, tz):<22} "
            f"due {format_time(ex.due, tz):<22} {state}"
        )
    return lines


def days_to_start(course: Course, start: str, today: dt.date | None = None) -> int:
    """Whole days that move the earliest `opens` (a date in the course's zone) to `start`."""
    today = today or dt.datetime.now(course.zone).date()
    if m := RELATIVE.fullmatch(start.strip()):
        target = today + dt.timedelta(days=(-1 if m.group(1) == "-" else 1) * int(m.group(2) or 0))
    else:
        try:
            target = dt.date.fromisoformat(start.strip())
        except ValueError:
            raise GraderError(
                f"--start: expected YYYY-MM-DD, today, or today-N / today+N, got {start!r}"
            ) from None
    opens = [ex.opens for ex in course.exercises.values() if ex.opens]
    if not opens:
        raise GraderError(
            "No exercise in course.toml has an `opens` date to start from: use --shift DAYS."
        )
    return (target - min(opens).astimezone(course.zone).date()).days


def shift(course_toml: Path, days: int) -> list[tuple[str, str]]:
    """Move every `opens`/`due` value of `course_toml` by `days`; the (old, new) values."""
    text = course_toml.read_text(encoding="utf-8")
    changes: list[tuple[str, str]] = []
    out = []
    for line in text.splitlines(keepends=True):
        body = line.rstrip("\r\n")
        m = DATE_LINE.match(body)
        if m is None:
            out.append(line)
            continue
        old = m.group(2)
        new = _shifted(old, days)
        changes.append((old, new))
        out.append(m.group(1) + new + m.group(3) + line[len(body) :])
    if not changes:
        raise GraderError(f"{course_toml} has no `opens` or `due` dates to move.")
    new_text = "".join(out)
    tomllib.loads(new_text)  # still valid TOML, or nothing is written
    fd, tmp = tempfile.mkstemp(dir=course_toml.parent, prefix=".course.toml.")
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(new_text)
    os.chmod(tmp, course_toml.stat().st_mode & 0o777)
    os.replace(tmp, course_toml)
    return changes


def _shifted(value: str, days: int) -> str:
    """A TOML date or datetime moved by `days`, written in the same style."""
    parsed = tomllib.loads(f"v = {value}")["v"]
    moved = parsed + dt.timedelta(days=days)
    if not isinstance(parsed, dt.datetime):
        return moved.isoformat()
    text = moved.isoformat(sep="T" if "T" in value.upper() else " ")
    return text.replace("+00:00", "Z") if value.upper().endswith("Z") else text
