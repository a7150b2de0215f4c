"""A private PostgreSQL cluster for tests: Debian's `initdb`/`pg_ctl` in a temporary folder.

The server listens only on a unix socket in its own folder (no TCP port to collide with) and
trusts local connections. PostgreSQL refuses to run as root, so as root the cluster belongs to
`nobody` (`runuser`). Use the `postgres_url` fixture: a fresh, empty database per test.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
import uuid
from pathlib import Path

import pytest

from servers import TAG, kill_and_wait, tagged

USER = "pgrader"  # the cluster's superuser, as which the tests connect


def pg_bin() -> Path | None:
    """The newest /usr/lib/postgresql/<version>/bin holding initdb (None: not installed)."""
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"),
        key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit() else 0,
    )
    return Path(found[-1]).parent if found else None


def _as_owner(argv: list[str]) -> list[str]:
    return ["runuser", "-u", "nobody", "--", *argv] if os.geteuid() == 0 else argv


class Cluster:
    def __init__(self, bindir: Path):
        self.bindir = bindir
        self.root = Path(tempfile.mkdtemp(prefix="pgrader-pg-"))
        self.data, self.socket = self.root / "data", self.root / "run"
        self.socket.mkdir()
        if os.geteuid() == 0:
            shutil.chown(self.root, "nobody")
            shutil.chown(self.socket, "nobody")
            self.root.chmod(0o755)

    def _run(self, *argv: str) -> None:
        done = subprocess.run(
            _as_owner(list(argv)),
            capture_output=True,
            text=True,
            timeout=120,
            cwd=self.root,
            env={**os.environ, TAG: str(self.root)},
        )
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(argv[:2])} failed: {done.stdout}{done.stderr}")

    def start(self) -> None:
        try:
            self._run(
                str(self.bindir / "initdb"),
                "-D",
                str(self.data),
                "-U",
                USER,
                "--auth=trust",
                "-E",
                "UTF8",
                "--no-sync",
            )
            self._run(
                str(self.bindir / "pg_ctl"),
                "-D",
                str(self.data),
                "-w",
                "-t",
                "60",
                "-l",
                str(self.root / "server.log"),
                "-o",
                f"-c listen_addresses='' -c unix_socket_directories={self.socket} "
                "-c fsync=off -c max_connections=200",
                "start",
            )
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        """`pg_ctl stop`; then SIGKILL whatever of the server is left (the postmaster daemonises:
        its processes are found by the variable `_run` put in their environment)."""
        try:
            if (self.data / "postmaster.pid").exists():
                self._run(
                    str(self.bindir / "pg_ctl"),
                    "-D",
                    str(self.data),
                    "-m",
                    "immediate",
                    "-w",
                    "stop",
                )
        finally:
            kill_and_wait(tagged(TAG, str(self.root)))
            shutil.rmtree(self.root, ignore_errors=True)

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://{USER}@/{database}?host={self.socket}"

    def new_database(self) -> str:
        import psycopg

        name = "t_" + uuid.uuid4().hex[:12]
        with psycopg.connect(
            host=str(self.socket), user=USER, dbname="postgres", autocommit=True
        ) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)


@pytest.fixture(scope="session")
def postgres_cluster():
    """A running private cluster for the session (fails in CI, skips elsewhere, without one)."""
    bindir = pg_bin()
    if bindir is None:
        if os.environ.get("CI"):
            pytest.fail("PostgreSQL is required in CI (scripts/setup-packages.sh installs it)")
        pytest.skip("PostgreSQL is not installed (scripts/setup-packages.sh)")
    cluster = Cluster(bindir)
    cluster.start()
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
def postgres_url(postgres_cluster) -> str:
    """The SQLAlchemy URL of a fresh, empty database in the private cluster."""
    return postgres_cluster.new_database()
