"""The durable store: students, submissions, gradings (with history) and an audit trail.

SQLAlchemy 2 over SQLite (default: `grader.db` beside course.toml, WAL mode) or PostgreSQL;
the schema is created and upgraded by Alembic migrations (`migrations/`) each time a store
is opened.
"""

from grader.store.engine import store_url
from grader.store.store import Current, Store, StoreBusy

__all__ = ["Current", "Store", "StoreBusy", "store_url", "open_store"]


def open_store(course, configured: str | None = None) -> Store:
    """The course's store: `configured` (--store), else course.toml's [store] url, else grader.db."""
    return Store(store_url(course.root, configured or course.store_url))
