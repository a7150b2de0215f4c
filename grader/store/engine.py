"""Opening a store: the URL, the engine (SQLite in WAL mode, writers serialised) and migrations.

The default store is `grader.db` beside `course.toml`; `[store] url` in course.toml or
`--store URL` chooses another (a plain path is a SQLite file, relative to the course).
PostgreSQL URLs (`postgresql+psycopg://...`) need the `postgres` extra.

On SQLite every writing transaction starts with `BEGIN IMMEDIATE`, so a check-then-write (is
this submission graded yet?) is atomic across processes; a writer waits up to `BUSY_SECONDS`
for another to finish before giving up with a clear message. Pages that only read use a
second engine whose transactions are plain (deferred) ones: in WAL mode they read a
consistent snapshot while a writer works.

Migrations run under a lock (SQLite: the write lock; PostgreSQL: an advisory lock), so two
processes opening a new store at once upgrade it once. On SQLite foreign keys are off while
they run (batch mode copies tables) and checked afterwards.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine, make_url

BUSY_SECONDS = 30.0
MIGRATIONS = Path(__file__).with_name("migrations")


def store_url(course_root: Path, configured: str | None = None) -> str:
    """The SQLAlchemy URL of the store: `configured` (URL or path) or grader.db beside course.toml."""
    value = configured or "grader.db"
    if "://" in value:
        return value
    path = Path(value)
    return "sqlite:///" + str(path if path.is_absolute() else (course_root / path).resolve())


MIGRATION_LOCK = 0x70677264  # PostgreSQL advisory lock key of migrations ("pgrd")


def make_engine(url: str, readonly: bool = False) -> Engine:
    """An engine on `url`; `readonly`: for reading only (SQLite: deferred transactions)."""
    if make_url(url).get_backend_name() != "sqlite":
        return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)
    engine = create_engine(url, connect_args={"timeout": BUSY_SECONDS, "check_same_thread": False})

    @event.listens_for(engine, "connect")
    def _setup(dbapi_conn, _record):
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute(f"PRAGMA busy_timeout={int(BUSY_SECONDS * 1000)}")
        cur.close()

    @event.listens_for(engine, "begin")
    def _begin(conn):
        conn.exec_driver_sql("BEGIN" if readonly else "BEGIN IMMEDIATE")

    return engine


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest Alembic revision (a no-op when it is there)."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with engine.connect() as conn:
        sqlite = conn.dialect.name == "sqlite"
        driver = conn.connection.driver_connection
        if sqlite and driver is not None:  # outside any transaction, or SQLite ignores it
            driver.execute("PRAGMA foreign_keys=OFF")
        try:
            with conn.begin():
                if not sqlite:
                    conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({MIGRATION_LOCK})")
                cfg.attributes["connection"] = conn
                command.upgrade(cfg, "head")
                if sqlite and (bad := conn.exec_driver_sql("PRAGMA foreign_key_check").all()):
                    raise RuntimeError(f"the store's foreign keys are broken: {bad[:5]}")
        finally:
            if sqlite and driver is not None:
                driver.execute("PRAGMA foreign_keys=ON")
