"""The batch ledger in Postgres (table ingest_batches)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from adpulse.server.domain.ingest import BatchOutcome, LedgerEntry, RowError
from adpulse.server.storage.postgres import Pool, unavailable_on_failure

_COLUMNS = (
    "batch_id, digest, version, state, accepted, rejected, duplicates, "
    "errors, errors_truncated, ignored_columns"
)
_SELECT = f"SELECT {_COLUMNS} FROM ingest_batches WHERE tenant = %s AND batch_id = %s"
# The hold on a batch id is a session-level advisory lock: Postgres drops it with the session
# when the holder dies, so no hold outlives its holder. Tenants have no ':', so the key is unique.
_LOCK_KEY = "hashtextextended(%s || ':' || %s, 0)"


class PostgresBatchLedger:
    def __init__(self, pool: Pool) -> None:
        self._pool = pool

    def find(self, tenant: str, batch_id: str) -> LedgerEntry | None:
        with unavailable_on_failure(), self._pool.connection() as conn:
            row = conn.execute(_SELECT, (tenant, batch_id)).fetchone()
        return _entry(row) if row else None

    @contextlib.contextmanager
    def claim(self, tenant: str, batch_id: str, digest: str, run_id: str) -> Iterator[_Claim]:
        with unavailable_on_failure(), self._pool.connection() as conn:
            conn.autocommit = True
            conn.execute(f"SELECT pg_advisory_lock({_LOCK_KEY})", (tenant, batch_id))
            try:
                row = (
                    conn.execute(
                        "INSERT INTO ingest_batches (tenant, batch_id, digest, version, state, run_id) "
                        "VALUES (%s, %s, %s, nextval('fact_version_seq'), 'pending', %s) "
                        f"ON CONFLICT (tenant, batch_id) DO NOTHING RETURNING {_COLUMNS}",
                        (tenant, batch_id, digest, run_id),
                    ).fetchone()
                    or conn.execute(_SELECT, (tenant, batch_id)).fetchone()
                )
                assert row is not None, "an entry is never deleted"
                yield _Claim(conn, tenant, _entry(row))
            finally:
                if not conn.closed:
                    conn.execute(f"SELECT pg_advisory_unlock({_LOCK_KEY})", (tenant, batch_id))


class _Claim:
    """A pending entry under its hold. Everything the batch's outcome writes is written by
    `record` before the facts are stored; `commit` after them only flips the state, which no
    content can make fail: a batch is never in the fact table with its ledger entry refused."""

    def __init__(self, conn: psycopg.Connection[tuple[Any, ...]], tenant: str, entry: LedgerEntry) -> None:
        self._conn = conn
        self._tenant = tenant
        self.entry = entry

    def record(self, outcome: BatchOutcome) -> None:
        errors = [[e.row, e.line, e.field, e.reason] for e in outcome.errors]
        with unavailable_on_failure():
            self._conn.execute(
                "UPDATE ingest_batches SET accepted = %s, rejected = %s, duplicates = %s, errors = %s, "
                "errors_truncated = %s, ignored_columns = %s "
                "WHERE tenant = %s AND batch_id = %s AND state = 'pending'",
                (
                    outcome.accepted,
                    outcome.rejected,
                    outcome.duplicates,
                    Jsonb(errors),
                    outcome.errors_truncated,
                    list(outcome.ignored_columns),
                    self._tenant,
                    self.entry.batch_id,
                ),
            )

    def commit(self) -> None:
        with unavailable_on_failure():
            self._conn.execute(
                "UPDATE ingest_batches SET state = 'committed', committed_at = now() "
                "WHERE tenant = %s AND batch_id = %s AND state = 'pending'",
                (self._tenant, self.entry.batch_id),
            )


def _entry(row: tuple[Any, ...]) -> LedgerEntry:
    batch_id, digest, version, state, accepted, rejected, duplicates, errors, truncated, ignored = row
    outcome = None
    if state == "committed":
        outcome = BatchOutcome(
            batch_id=batch_id,
            accepted=accepted,
            rejected=rejected,
            duplicates=duplicates,
            errors=tuple(RowError(*e) for e in errors),
            errors_truncated=truncated,
            ignored_columns=tuple(ignored),
        )
    return LedgerEntry(batch_id=batch_id, digest=digest, version=version, outcome=outcome)
