"""A throwaway PostgreSQL cluster for tests and benchmarks, and the pytest fixtures on it.

    with PostgresCluster.start() as cluster:          # initdb + pg_ctl in a temp dir, loopback only
        url = cluster.create_database()               # postgresql://postgres@127.0.0.1:PORT/db_1
        with Ledger(url) as ledger: ...

PostgreSQL refuses to run as root, and these machines run as root: the server then runs as the
``postgres`` user (``runuser``) in a directory it owns. ``initdb`` and ``pg_ctl`` are found on
PATH or in Debian's ``/usr/lib/postgresql/<version>/bin`` (``scripts/system-deps.sh`` installs
the package). Registered as a pytest plugin (tests/conftest.py), it provides ``postgres_cluster``
(one per test session, i.e. per xdist worker, started on first use), ``postgres_url`` (a fresh,
migrated database per test, copied from a template) and ``ledger_target`` (a test run once on a
SQLite file and once on such a database).
"""

from __future__ import annotations

import itertools
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest

__all__ = [
    "PostgresCluster", "PostgresUnavailable", "find_postgres_bin", "ledger_target", "postgres_cluster", "postgres_url",
]

#: Settings for clusters whose data may be lost: tests trade durability for speed.
FAST_SETTINGS = {"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off"}


class PostgresUnavailable(RuntimeError):
    """No PostgreSQL server binaries on this machine (run scripts/system-deps.sh)."""


def find_postgres_bin() -> Path:
    """The directory holding ``initdb`` and ``pg_ctl`` (PATH first, then the newest Debian version)."""
    on_path = shutil.which("pg_ctl")
    if on_path and shutil.which("initdb"):
        return Path(on_path).resolve().parent
    versions = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"), key=lambda p: int(p.parent.parent.name)
        if p.parent.parent.name.isdigit() else 0,
    )
    if not versions:
        raise PostgresUnavailable(
            "PostgreSQL's initdb/pg_ctl were not found (PATH, /usr/lib/postgresql/*/bin): "
            "run scripts/system-deps.sh, which installs Debian's postgresql"
        )
    return versions[-1].parent


def _free_port() -> int:
    from .._loopback import free_port

    return free_port()


class PostgresCluster:
    """A PostgreSQL server on 127.0.0.1 with its data in a temporary directory (trust auth)."""

    def __init__(self, directory: Path, *, bin_dir: Path, settings: Mapping[str, str]) -> None:
        self.directory = directory
        self.data = directory / "data"
        self.bin_dir = bin_dir
        self.settings = dict(settings)
        self.port = 0
        self._as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        self._names = itertools.count(1)

    @classmethod
    def start(cls, *, settings: Mapping[str, str] = FAST_SETTINGS) -> PostgresCluster:
        """initdb a new cluster in a fresh temp dir and start it on a free loopback port."""
        bin_dir = find_postgres_bin()
        directory = Path(tempfile.mkdtemp(prefix="unifiedmcp-pg-"))  # short: it holds the socket
        cluster = cls(directory, bin_dir=bin_dir, settings=settings)
        try:
            if cluster._as_user:
                shutil.chown(directory, "postgres", "postgres")
            cluster._run("initdb", "-D", str(cluster.data), "-A", "trust", "-U", "postgres", "-E", "UTF8",
                         "--no-locale", "--no-sync")
            cluster.start_server()
        except BaseException:
            shutil.rmtree(directory, ignore_errors=True)
            raise
        return cluster

    def _run(self, tool: str, *args: str) -> None:
        cmd = [*self._as_user, str(self.bin_dir / tool), *args]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=120, cwd=self.directory)
        if done.returncode != 0:
            raise RuntimeError(f"{tool} failed ({done.returncode}): {done.stderr.strip() or done.stdout.strip()}")

    def start_server(self) -> None:
        """Start (or start again, on the same port once it has one) the server; waits until ready."""
        options = " ".join(f"-c {k}={v}" for k, v in self.settings.items())
        for attempt in range(3):  # a free port can be taken between choosing it and binding it
            port = self.port or _free_port()
            try:
                self._run(
                    "pg_ctl", "-D", str(self.data), "-l", str(self.directory / "server.log"), "-w", "-t", "60",
                    "-o", f"-p {port} -k {self.directory} -c listen_addresses=127.0.0.1 {options}", "start",
                )
            except RuntimeError:
                if self.port or attempt == 2:
                    raise
                continue
            self.port = port
            return

    def stop_server(self, *, mode: str = "fast") -> None:
        """Stop the server (``fast``: disconnect clients; ``immediate``: as a crash would)."""
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop")

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str | None = None, *, template: str | None = None) -> str:
        """A new database (optionally a copy of ``template``); returns its URL."""
        import psycopg

        name = name or f"db_{os.getpid()}_{next(self._names)}"
        with psycopg.connect(self.url(), autocommit=True) as conn:
            sql = f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else "")
            conn.execute(sql)  # type: ignore[arg-type]  # names made here, never a caller's text
        return self.url(name)

    def close(self) -> None:
        """Stop the server if it runs and remove every file of the cluster."""
        try:
            if (self.data / "postmaster.pid").exists():
                self.stop_server(mode="immediate")
        finally:
            shutil.rmtree(self.directory, ignore_errors=True)

    def __enter__(self) -> PostgresCluster:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# -- pytest fixtures (this module is a plugin: tests/conftest.py names it) --------------------------

@pytest.fixture(scope="session")
def postgres_cluster() -> Iterator[PostgresCluster]:
    """A PostgreSQL cluster for this test session (each xdist worker has its own), with a
    migrated template database ``ledger_template``."""
    from ._ledger import Ledger

    try:
        cluster = PostgresCluster.start()
    except PostgresUnavailable as exc:
        pytest.fail(str(exc))
    with cluster:
        Ledger(cluster.create_database("ledger_template")).close()
        yield cluster


@pytest.fixture
def postgres_url(postgres_cluster: PostgresCluster) -> str:
    """A fresh, migrated ledger database of its own for one test."""
    return postgres_cluster.create_database(template="ledger_template")


@pytest.fixture(params=["sqlite", "postgres"])
def ledger_target(request: pytest.FixtureRequest, tmp_path: Path) -> Path | str:
    """Where a fresh ledger lives, once per backend: a SQLite file path, or a PostgreSQL URL."""
    if request.param == "sqlite":
        return tmp_path / "ledger.sqlite3"
    return request.getfixturevalue("postgres_url")
