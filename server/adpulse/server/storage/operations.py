"""Long-running operations in Postgres (table operations), and who is running which.

A worker holds a session-level advisory lock on an operation for as long as it runs it, on a
connection of its own. Postgres drops the lock the moment that session ends, so "RUNNING and
nobody holds the lock" means exactly "the worker died": the reconciler and a redelivered task
can both tell a dead worker from a live one at once, without waiting for a heartbeat to go
stale. The backend's TCP keepalives are shortened on that connection, so a worker whose
machine vanished loses its lock within a minute too.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from adpulse.server.domain.errors import AlreadyExists, FailedPrecondition
from adpulse.server.domain.operations import (
    LostClaim,
    Operation,
    OperationError,
    OperationFilter,
    OperationKind,
    OperationState,
    Progress,
    new_operation_id,
)
from adpulse.server.storage.postgres import Pool, unavailable_on_failure

log = logging.getLogger(__name__)
_COLUMNS = (
    "op_id, tenant, kind, state, params, percent, rows_done, rows_total, step, checkpoint, result, "
    "error, cancel_requested, recoveries, created_at, updated_at, finished_at"
)
_LOCK_KEY = "hashtextextended('operation:' || %s, 0)"
# A dead peer's session (and so its lock) ends after about idle + interval × count seconds.
_KEEPALIVES = (
    "SET tcp_keepalives_idle = 20; SET tcp_keepalives_interval = 5; SET tcp_keepalives_count = 4; "
    "SET client_connection_check_interval = '10s'"
)


class PostgresOperationStore:
    def __init__(self, pool: Pool, dsn: str) -> None:
        self._pool = pool
        self._dsn = dsn

    def create(
        self, tenant: str, kind: OperationKind, params: Mapping[str, Any], request_id: str
    ) -> tuple[Operation, bool]:
        """Records a queued operation; with a request id already used, the earlier one (False)."""
        with unavailable_on_failure(), self._pool.connection() as conn:
            row = conn.execute(
                "INSERT INTO operations (op_id, tenant, kind, state, params, request_id) "
                "VALUES (%s, %s, %s, 'queued', %s, %s) ON CONFLICT (tenant, kind, request_id) "
                f"WHERE request_id IS NOT NULL DO NOTHING RETURNING {_COLUMNS}",
                (new_operation_id(), tenant, kind.value, Jsonb(dict(params)), request_id or None),
            ).fetchone()
            if row is not None:
                return _operation(row), True
            row = conn.execute(
                f"SELECT {_COLUMNS} FROM operations WHERE tenant = %s AND kind = %s AND request_id = %s",
                (tenant, kind.value, request_id),
            ).fetchone()
        if row is None:  # deleted between the two statements: a new request after all
            return self.create(tenant, kind, params, request_id)
        earlier = _operation(row)
        if _canonical(earlier.params) != _canonical(params):
            raise AlreadyExists(
                f"request_id {request_id!r} was used for another request; use a new request_id",
                "REQUEST_ID_REUSED",
                metadata={"request_id": request_id, "operation": earlier.name},
            )
        return earlier, False

    def get(self, tenant: str, op_id: str) -> Operation | None:
        with unavailable_on_failure(), self._pool.connection() as conn:
            row = conn.execute(
                f"SELECT {_COLUMNS} FROM operations WHERE tenant = %s AND op_id = %s", (tenant, op_id)
            ).fetchone()
        return _operation(row) if row else None

    def find(self, tenant: str, where: OperationFilter, offset: int, limit: int) -> list[Operation]:
        """Newest first."""
        conditions, params = ["tenant = %s"], [tenant]
        for column, value, op in (
            ("kind", where.kind, "="),
            ("state", where.state, "="),
            ("kind", where.exclude_kind, "!="),
            ("state", where.exclude_state, "!="),
        ):
            if value is not None:
                conditions.append(f"{column} {op} %s")
                params.append(value.value)
        if where.done is not None:
            conditions.append(f"state {'' if where.done else 'NOT '}IN ('succeeded', 'failed', 'cancelled')")
        with unavailable_on_failure(), self._pool.connection() as conn:
            rows = conn.execute(
                f"SELECT {_COLUMNS} FROM operations WHERE {' AND '.join(conditions)} "
                "ORDER BY created_at DESC, op_id DESC OFFSET %s LIMIT %s",
                (*params, offset, limit),
            ).fetchall()
        return [_operation(row) for row in rows]

    def request_cancel(self, tenant: str, op_id: str, error: OperationError) -> Operation | None:
        """Flags the operation; one still queued is cancelled at once (no worker has it)."""
        with unavailable_on_failure(), self._pool.connection() as conn:
            row = conn.execute(
                "UPDATE operations SET cancel_requested = true, updated_at = now(), "
                "state = CASE WHEN state = 'queued' THEN 'cancelled' ELSE state END, "
                "finished_at = CASE WHEN state = 'queued' THEN now() ELSE finished_at END, "
                "error = CASE WHEN state = 'queued' THEN %s ELSE error END "
                "WHERE tenant = %s AND op_id = %s AND state IN ('queued', 'running') "
                f"RETURNING {_COLUMNS}",
                (Jsonb(error.to_json()), tenant, op_id),
            ).fetchone()
        return _operation(row) if row else self.get(tenant, op_id)

    def delete(self, tenant: str, op_id: str) -> Operation | None:
        """Forgets a finished operation; one not finished is FAILED_PRECONDITION."""
        with unavailable_on_failure(), self._pool.connection() as conn:
            row = conn.execute(
                "DELETE FROM operations WHERE tenant = %s AND op_id = %s "
                f"AND state IN ('succeeded', 'failed', 'cancelled') RETURNING {_COLUMNS}",
                (tenant, op_id),
            ).fetchone()
        if row is not None:
            return _operation(row)
        if self.get(tenant, op_id) is not None:
            raise FailedPrecondition(
                "the operation is not done; cancel it first, then delete it",
                "OPERATION_NOT_DONE",
                metadata={"name": f"operations/{op_id}"},
            )
        return None

    @contextlib.contextmanager
    def claim(self, op_id: str, owner: str) -> Iterator[Claim | None]:
        """Holds the operation for the block and marks it running; None when it is done, gone,
        or held by a live worker."""
        with unavailable_on_failure():
            conn = psycopg.connect(self._dsn, autocommit=True)
        with conn:
            with unavailable_on_failure():
                for statement in _KEEPALIVES.split("; "):
                    conn.execute(statement.encode())
                locked = conn.execute(f"SELECT pg_try_advisory_lock({_LOCK_KEY})", (op_id,)).fetchone()
            if not (locked and locked[0]):
                yield None
                return
            with unavailable_on_failure():
                # Running while nobody held the lock: its worker died, and this is a recovery.
                row = conn.execute(
                    "UPDATE operations SET recoveries = recoveries + (state = 'running')::int, "
                    "state = 'running', owner = %s, updated_at = now() "
                    f"WHERE op_id = %s AND state IN ('queued', 'running') RETURNING {_COLUMNS}",
                    (owner, op_id),
                ).fetchone()
            yield Claim(conn, owner, _operation(row)) if row else None

    def reconcile(self, requeue_after: dt.timedelta) -> list[str]:
        """Operations to send to the workers again: running ones whose worker died (now queued
        again), and queued ones that waited longer than `requeue_after` (their message may
        have been lost with a worker that had taken it)."""
        with unavailable_on_failure(), self._pool.connection() as conn:
            conn.autocommit = True
            candidates = conn.execute(
                "SELECT op_id, state, updated_at FROM operations WHERE state = 'running' "
                "OR (state = 'queued' AND updated_at < now() - %s) ORDER BY updated_at LIMIT 1000",
                (requeue_after,),
            ).fetchall()
            ready = []
            for op_id, state, seen in candidates:
                locked = conn.execute(f"SELECT pg_try_advisory_lock({_LOCK_KEY})", (op_id,)).fetchone()
                if not (locked and locked[0]):
                    continue  # a live worker has it
                try:
                    row = conn.execute(
                        "UPDATE operations SET state = 'queued', owner = '', updated_at = now(), "
                        "recoveries = recoveries + (state = 'running')::int, "
                        "step = CASE WHEN state = 'running' THEN 'waiting for a worker (the last one "
                        "stopped)' ELSE step END "
                        "WHERE op_id = %s AND state = %s AND updated_at = %s RETURNING op_id",
                        (op_id, state, seen),
                    ).fetchone()
                finally:
                    conn.execute(f"SELECT pg_advisory_unlock({_LOCK_KEY})", (op_id,))
                if row:
                    ready.append(op_id)
        return ready

    def batch_totals(self, tenant: str, batch_ids: Sequence[str]) -> tuple[int, int, int]:
        """(accepted, rejected, duplicates) the ledger recorded for these batches when they were
        first committed: a job's replayed chunks count as what they stored then."""
        with unavailable_on_failure(), self._pool.connection() as conn:
            row = conn.execute(
                "SELECT coalesce(sum(accepted), 0), coalesce(sum(rejected), 0), "
                "coalesce(sum(duplicates), 0) FROM ingest_batches "
                "WHERE tenant = %s AND batch_id = ANY(%s) AND state = 'committed'",
                (tenant, list(batch_ids)),
            ).fetchone()
        assert row is not None
        return int(row[0]), int(row[1]), int(row[2])

    def tenants(self) -> list[str]:
        """Tenants that ever stored data or settings."""
        with unavailable_on_failure(), self._pool.connection() as conn:
            rows = conn.execute(
                "SELECT DISTINCT tenant FROM ingest_batches UNION SELECT tenant FROM tenant_settings "
                "ORDER BY 1"
            ).fetchall()
        return [row[0] for row in rows]


class Claim:
    """A running operation held by this worker."""

    def __init__(self, conn: psycopg.Connection[tuple[Any, ...]], owner: str, operation: Operation) -> None:
        self._conn = conn
        self._owner = owner
        self.operation = operation

    def report(self, progress: Progress, checkpoint: Mapping[str, Any]) -> bool:
        """Records progress and where the work stands; True when a cancel was requested."""
        row = self._update(
            "percent = %s, rows_done = %s, rows_total = %s, step = %s, checkpoint = %s",
            (
                progress.percent,
                progress.rows_done,
                progress.rows_total,
                progress.step,
                Jsonb(dict(checkpoint)),
            ),
            "cancel_requested",
        )
        return bool(row[0])

    def heartbeat(self) -> None:
        self._update("", (), "op_id")

    def requeue(self, step: str) -> None:
        """Lets go of the operation for a later task to continue it."""
        self._update("state = 'queued', owner = '', step = %s", (step,), "op_id")

    def finish(
        self,
        state: OperationState,
        progress: Progress,
        result: Mapping[str, Any] | None = None,
        error: OperationError | None = None,
    ) -> None:
        self._update(
            "state = %s, finished_at = now(), percent = %s, rows_done = %s, rows_total = %s, step = %s, "
            "result = %s, error = %s",
            (
                state.value,
                progress.percent,
                progress.rows_done,
                progress.rows_total,
                progress.step,
                Jsonb(dict(result)) if result is not None else None,
                Jsonb(error.to_json()) if error is not None else None,
            ),
            "op_id",
        )

    def _update(self, assignments: str, params: tuple[Any, ...], returning: str) -> tuple[Any, ...]:
        sets = f"{assignments}, updated_at = now()" if assignments else "updated_at = now()"
        with unavailable_on_failure():
            row = self._conn.execute(
                f"UPDATE operations SET {sets} WHERE op_id = %s AND owner = %s AND state = 'running' "
                f"RETURNING {returning}",
                (*params, self.operation.op_id, self._owner),
            ).fetchone()
        if row is None:
            raise LostClaim(self.operation.op_id)
        return row


def _canonical(params: Mapping[str, Any]) -> str:
    return json.dumps(params, sort_keys=True, default=str)


def _operation(row: tuple[Any, ...]) -> Operation:
    (op_id, tenant, kind, state, params, percent, rows_done, rows_total, step, checkpoint, result, error,
     cancel_requested, recoveries, created, updated, finished) = row  # fmt: skip
    return Operation(
        op_id=op_id,
        tenant=tenant,
        kind=OperationKind(kind),
        state=OperationState(state),
        params=params,
        progress=Progress(percent, rows_done, rows_total, step),
        checkpoint=checkpoint,
        result=result,
        error=OperationError.from_json(error) if error else None,
        cancel_requested=cancel_requested,
        recoveries=recoveries,
        created_at=created,
        updated_at=updated,
        finished_at=finished,
    )
