"""The course and its exercises, read from `course.toml` and `exercises/<slug>/exercise.toml`.

Every malformed value raises `ConfigError` naming the file, the key and what was expected.
"""

from __future__ import annotations

import datetime as dt
import tomllib
import zoneinfo
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from grader.errors import ConfigError, UnknownExercise
from grader.requirements import parse_requirements

BACKENDS = ("auto", "docker", "local")
TOPICS = ("threads", "processes", "asyncio", "mpi", "distributed", "gpu")
COUNTED = ("latest", "best")  # which attempt counts: the newest graded one, or the best score


def format_time(t: dt.datetime | None, timezone: str = "UTC", seconds: bool = False) -> str:
    """`t` in the course's time zone, as every page, export and command shows times."""
    if t is None:
        return "-"
    local = t.astimezone(zoneinfo.ZoneInfo(timezone))
    return local.strftime("%Y-%m-%d %H:%M" + (":%S" if seconds else "") + " %Z")


@dataclass(frozen=True)
class Limits:
    """Resource limits for one sandboxed request."""

    wall_seconds: float = 20.0
    cpu_seconds: float = 60.0
    memory_mb: int = 512
    pids: int = 256
    output_kb: int = 64
    cpus: float = 2.0
    disk_mb: int = 64

    def merged(self, overrides: dict, path: Path, section: str) -> Limits:
        known = {f.name: f.type for f in fields(self)}
        values: dict[str, Any] = {}
        for key, value in overrides.items():
            if key not in known:
                raise ConfigError(path, f"{section}.{key}", f"one of {', '.join(known)}")
            if not isinstance(value, (int, float)) or isinstance(value, bool) or value <= 0:
                raise ConfigError(path, f"{section}.{key}", "a positive number", value)
            values[key] = value
        return replace(self, **values)


@dataclass(frozen=True)
class LatePolicy:
    penalty_per_day: float = 0.0  # fraction of the score lost per late day
    last_day: int = 0  # submissions later than this many days score 0

    def penalty(self, late_days: int) -> float:
        """Fraction of the score lost for `late_days` days late (1.0: not accepted)."""
        if late_days <= 0:
            return 0.0
        if late_days > self.last_day:
            return 1.0
        return min(1.0, late_days * self.penalty_per_day)


@dataclass(frozen=True)
class Runtime:
    mpi_ranks: tuple[int, ...] = ()
    gpu: bool = False
    celery: bool = False

    def needs(self) -> list[str]:
        out = []
        if self.mpi_ranks:
            out.append("mpi ranks=" + ",".join(map(str, self.mpi_ranks)))
        if self.gpu:
            out.append("gpu")
        if self.celery:
            out.append("celery")
        return out


@dataclass(frozen=True)
class Exercise:
    slug: str
    root: Path
    title: str
    topic: str
    points: float
    files: tuple[str, ...]
    module: str
    runtime: Runtime
    limits: Limits
    weights: dict[str, float] = field(default_factory=dict)
    hidden_visibility: str = "visible"
    opens: dt.datetime | None = None
    due: dt.datetime | None = None
    counted_attempt: str = "latest"  # the course's rule, or this exercise's own
    timezone: str = "UTC"  # the course's: how times are shown
    requirements: dict[str, str] = field(default_factory=dict)  # id -> sentence of the README
    requirements_waiting: dict[str, str] = field(default_factory=dict)  # id -> what it waits for

    @property
    def statement(self) -> Path:
        return self.root / "README.md"

    @property
    def skeleton(self) -> Path:
        return self.root / "skeleton"

    @property
    def public_tests(self) -> Path:
        return self.root / "tests" / "public"

    @property
    def hidden_tests(self) -> Path:
        return self.root / "tests" / "hidden"

    def solution_dir(self, course_root: Path) -> Path:
        return course_root / "solutions" / self.slug

    def weight(self, test_name: str) -> float:
        return float(self.weights.get(test_name, 1.0))


@dataclass(frozen=True)
class Course:
    root: Path
    name: str
    term: str
    backend: str
    limits: Limits
    late_policy: LatePolicy
    exercises: dict[str, Exercise]
    store_url: str = ""  # [store] url: a SQLAlchemy URL or a SQLite path ("": grader.db)
    timezone: str = "UTC"  # [course] timezone: dates without an offset are in it; times shown in it
    counted_attempt: str = "latest"  # [course] counted_attempt: latest or best

    @property
    def zone(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.timezone)

    def exercise(self, slug: str) -> Exercise:
        try:
            return self.exercises[slug]
        except KeyError:
            raise UnknownExercise(self.root / "course.toml", slug, list(self.exercises)) from None


# ---------------------------------------------------------------- reading helpers


def _read_toml(path: Path) -> dict:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(path, "-", "the file to exist") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(path, "-", f"valid TOML ({exc})") from None


def _get(table: dict, key: str, kind, path: Path, prefix: str = "", default=...):
    name = f"{prefix}{key}"
    if key not in table:
        if default is ...:
            raise ConfigError(path, name, f"a value of type {_kind_name(kind)} (missing)")
        return default
    value = table[key]
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if not isinstance(value, kind) or (kind in (int, float) and isinstance(value, bool)):
        raise ConfigError(path, name, f"a value of type {_kind_name(kind)}", value)
    return value


def _kind_name(kind) -> str:
    if isinstance(kind, tuple):
        return " or ".join(k.__name__ for k in kind)
    return {
        str: "string",
        float: "number",
        int: "integer",
        bool: "boolean",
        list: "array",
        dict: "table",
    }.get(kind, kind.__name__)


def _datetime(
    table: dict, key: str, path: Path, prefix: str, zone: dt.tzinfo = dt.UTC
) -> dt.datetime | None:
    """A date (end of that day) or datetime; without an offset, in the course's time zone."""
    value = _get(table, key, (dt.datetime, dt.date), path, prefix, None)
    if value is None:
        return None
    if not isinstance(value, dt.datetime):
        value = dt.datetime.combine(value, dt.time(23, 59, 59))
    if value.tzinfo is None:
        value = value.replace(tzinfo=zone)
    return value


def _choice(table: dict, key: str, choices: tuple, path: Path, prefix: str, default: str) -> str:
    value = _get(table, key, str, path, prefix, default)
    if value not in choices:
        raise ConfigError(path, f"{prefix}{key}", " or ".join(choices), value)
    return value


def _zone(info: dict, path: Path) -> str:
    name = _get(info, "timezone", str, path, "course.", "UTC")
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ConfigError(
            path,
            "course.timezone",
            "an IANA time zone such as Europe/Berlin or America/New_York",
            name,
        ) from None
    return name


# ---------------------------------------------------------------- loading


def load_exercise(root: Path, default_limits: Limits) -> Exercise:
    path = root / "exercise.toml"
    data = _read_toml(path)
    topic = _get(data, "topic", str, path)
    if topic not in TOPICS:
        raise ConfigError(path, "topic", f"one of {', '.join(TOPICS)}", topic)
    files = _get(data, "files", list, path, default=["solution.py"])
    if not files or not all(
        isinstance(f, str) and f and "/" not in f and not f.startswith(".") for f in files
    ):
        raise ConfigError(path, "files", "a non-empty array of plain file names", files)
    module = _get(data, "module", str, path, default=Path(files[0]).stem)
    runtime_table = _get(data, "runtime", dict, path, default={})
    mpi = _get(runtime_table, "mpi", dict, path, "runtime.", default={})
    ranks = _get(mpi, "ranks", list, path, "runtime.mpi.", default=[])
    if not all(isinstance(r, int) and not isinstance(r, bool) and 1 <= r <= 16 for r in ranks):
        raise ConfigError(path, "runtime.mpi.ranks", "an array of integers from 1 to 16", ranks)
    runtime = Runtime(
        mpi_ranks=tuple(ranks),
        gpu=_get(runtime_table, "gpu", bool, path, "runtime.", default=False),
        celery=_get(runtime_table, "celery", bool, path, "runtime.", default=False),
    )
    limits = default_limits.merged(_get(data, "limits", dict, path, default={}), path, "limits")
    weights = _get(data, "weights", dict, path, default={})
    for name, w in weights.items():
        if not isinstance(w, (int, float)) or isinstance(w, bool) or w < 0:
            raise ConfigError(path, f"weights.{name}", "a number >= 0", w)
    feedback = _get(data, "feedback", dict, path, default={})
    visibility = _get(feedback, "hidden_visibility", str, path, "feedback.", default="visible")
    if visibility not in ("visible", "hidden", "after_due_date", "after_published"):
        raise ConfigError(
            path,
            "feedback.hidden_visibility",
            "visible, hidden, after_due_date or after_published",
            visibility,
        )
    requirements, waiting = parse_requirements(data, path)
    return Exercise(
        slug=root.name,
        root=root,
        title=_get(data, "title", str, path),
        topic=topic,
        points=_get(data, "points", float, path, default=10.0),
        files=tuple(files),
        module=module,
        runtime=runtime,
        limits=limits,
        weights={k: float(v) for k, v in weights.items()},
        hidden_visibility=visibility,
        requirements=requirements,
        requirements_waiting=waiting,
    )


def load_course(root: Path | str = ".") -> Course:
    root = Path(root).resolve()
    path = root / "course.toml"
    data = _read_toml(path)
    info = _get(data, "course", dict, path)
    backend = _get(info, "backend", str, path, "course.", default="auto")
    if backend not in BACKENDS:
        raise ConfigError(path, "course.backend", f"one of {', '.join(BACKENDS)}", backend)
    limits = Limits().merged(_get(data, "limits", dict, path, default={}), path, "limits")
    late = _get(data, "late_policy", dict, path, default={})
    policy = LatePolicy(
        penalty_per_day=_get(late, "penalty_per_day", float, path, "late_policy.", default=0.0),
        last_day=_get(late, "last_day", int, path, "late_policy.", default=0),
    )
    if not 0 <= policy.penalty_per_day <= 1:
        raise ConfigError(
            path, "late_policy.penalty_per_day", "a number from 0 to 1", policy.penalty_per_day
        )
    timezone = _zone(info, path)
    zone = zoneinfo.ZoneInfo(timezone)
    counted = _choice(info, "counted_attempt", COUNTED, path, "course.", "latest")
    exercises: dict[str, Exercise] = {}
    entries = _get(data, "exercise", list, path, default=[])
    for i, entry in enumerate(entries):
        prefix = f"exercise[{i}]."
        if not isinstance(entry, dict):
            raise ConfigError(path, f"exercise[{i}]", "a table", entry)
        slug = _get(entry, "slug", str, path, prefix)
        ex_root = root / "exercises" / slug
        if not (ex_root / "exercise.toml").is_file():
            raise ConfigError(
                path, f"{prefix}slug", f"a folder exercises/{slug}/ with an exercise.toml", slug
            )
        if slug in exercises:
            raise ConfigError(path, f"{prefix}slug", "each exercise listed once", slug)
        ex = load_exercise(ex_root, limits)
        ex = replace(
            ex,
            points=_get(entry, "points", float, path, prefix, default=ex.points),
            opens=_datetime(entry, "opens", path, prefix, zone),
            due=_datetime(entry, "due", path, prefix, zone),
            counted_attempt=_choice(entry, "counted_attempt", COUNTED, path, prefix, counted),
            timezone=timezone,
        )
        exercises[slug] = ex
    return Course(
        root=root,
        name=_get(info, "name", str, path, "course."),
        term=_get(info, "term", str, path, "course.", default=""),
        backend=backend,
        limits=limits,
        late_policy=policy,
        exercises=exercises,
        store_url=_get(
            _get(data, "store", dict, path, default={}), "url", str, path, "store.", default=""
        ),
        timezone=timezone,
        counted_attempt=counted,
    )


def find_course_root(start: Path | None = None) -> Path:
    """The nearest folder at or above `start` holding a course.toml."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "course.toml").is_file():
            return folder
    raise ConfigError(
        here / "course.toml",
        "-",
        "a course.toml in this folder or a parent (run grader in the course's folder, or name "
        "that folder with `grader --course DIR ...`)",
    )
