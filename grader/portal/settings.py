"""The `[portal]` table of course.toml: rate limit, upload size, session length.

```toml
[portal]
submissions_per_hour = 10   # uploads per student and exercise in any 60 minutes
max_upload_kb = 2048        # largest .py/.zip/.ipynb accepted
session_hours = 12          # a sign-in lasts this long
```
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass

from grader.course import Course
from grader.errors import ConfigError


@dataclass(frozen=True)
class PortalSettings:
    submissions_per_hour: int = 10
    max_upload_kb: int = 2048
    session_hours: float = 12.0


def portal_settings(course: Course) -> PortalSettings:
    path = course.root / "course.toml"
    table = tomllib.loads(path.read_text(encoding="utf-8")).get("portal", {})
    if not isinstance(table, dict):
        raise ConfigError(path, "portal", "a table", table)
    values: dict[str, int | float] = {}
    for key, default in vars(PortalSettings()).items():
        if key not in table:
            continue
        value = table[key]
        if (
            isinstance(value, bool)
            or not isinstance(value, (int, float))
            or value <= 0
            or (isinstance(default, int) and not isinstance(value, int))
        ):
            raise ConfigError(
                path,
                f"portal.{key}",
                "a positive " + ("integer" if isinstance(default, int) else "number"),
                value,
            )
        values[key] = value
    if unknown := set(table) - set(vars(PortalSettings())):
        raise ConfigError(
            path, f"portal.{sorted(unknown)[0]}", "one of " + ", ".join(vars(PortalSettings()))
        )
    return PortalSettings(**values)  # type: ignore[arg-type]  # each checked above against its default's type
