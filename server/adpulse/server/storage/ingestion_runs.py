"""Ingestion runs, named streams' progress and server heartbeats, in Postgres."""

from __future__ import annotations

import datetime as dt
import logging
import threading
import uuid
from typing import Any

from adpulse.server.domain.ingest import BatchFootprint, BatchOutcome
from adpulse.server.domain.runs import IngestionRun, RunFilter, RunState, SourceStats
from adpulse.server.storage.postgres import Pool, unavailable_on_failure

log = logging.getLogger(__name__)
# A server silent for this many heartbeats is gone, and the runs it held were abandoned.
STALE_HEARTBEATS = 6
_ABANDONED = (
    "(r.state = 'running' AND (i.heartbeat_at IS NULL "
    "OR i.heartbeat_at < now() - make_interval(secs => {stale})))"
)
_RUN_COLUMNS = (
    "r.run_id, r.source, r.stream_id, CASE WHEN {abandoned} THEN 'abandoned' ELSE r.state END, "
    "r.started_at, r.ended_at, r.updated_at, r.batches, r.rows_accepted, r.rows_rejected, r.rows_duplicate, "
    "r.bytes, r.ignored_columns, r.missing_columns, r.platforms, r.oldest_date, r.newest_date, r.error"
)
_FROM = "ingestion_runs r LEFT JOIN server_instances i ON i.instance_id = r.owner"


class PostgresRunStore:
    def __init__(self, pool: Pool, instance_id: str, heartbeat_seconds: float) -> None:
        self._pool = pool
        self._instance_id = instance_id
        self._abandoned = _ABANDONED.format(stale=float(heartbeat_seconds * STALE_HEARTBEATS))
        self._columns = _RUN_COLUMNS.format(abandoned=self._abandoned)

    def start(self, tenant: str, source: str, stream_id: str) -> str:
        run_id = f"run-{uuid.uuid4().hex[:20]}"
        with unavailable_on_failure(), self._pool.connection() as conn:
            conn.execute(
                "INSERT INTO ingestion_runs (tenant, run_id, source, stream_id, state, owner) "
                "VALUES (%s, %s, %s, %s, 'running', %s)",
                (tenant, run_id, source, stream_id, self._instance_id),
            )
        return run_id

    def record_batch(
        self, tenant: str, run_id: str, stream_id: str, outcome: BatchOutcome, footprint: BatchFootprint
    ) -> None:
        with unavailable_on_failure(), self._pool.connection() as conn, conn.transaction():
            conn.execute(
                "UPDATE ingestion_runs SET batches = batches + 1, rows_accepted = rows_accepted + %s, "
                "rows_rejected = rows_rejected + %s, rows_duplicate = rows_duplicate + %s, "
                "bytes = bytes + %s, "
                "ignored_columns = ARRAY(SELECT DISTINCT unnest(ignored_columns || %s::text[]) ORDER BY 1), "
                "missing_columns = ARRAY(SELECT DISTINCT unnest(missing_columns || %s::text[]) ORDER BY 1), "
                "platforms = ARRAY(SELECT DISTINCT unnest(platforms || %s::text[]) ORDER BY 1), "
                "oldest_date = LEAST(oldest_date, %s), newest_date = GREATEST(newest_date, %s), "
                "updated_at = now() WHERE tenant = %s AND run_id = %s",
                (
                    outcome.accepted,
                    outcome.rejected,
                    outcome.duplicates,
                    footprint.bytes,
                    list(outcome.ignored_columns),
                    list(outcome.missing_columns),
                    list(footprint.platforms),
                    footprint.oldest_date,
                    footprint.newest_date,
                    tenant,
                    run_id,
                ),
            )
            if stream_id:
                conn.execute(
                    "INSERT INTO ingest_streams (tenant, stream_id, last_batch_id, committed_batches) "
                    "VALUES (%s, %s, %s, 1) ON CONFLICT (tenant, stream_id) DO UPDATE SET "
                    "last_batch_id = EXCLUDED.last_batch_id, "
                    "committed_batches = ingest_streams.committed_batches + 1, updated_at = now()",
                    (tenant, stream_id, outcome.batch_id),
                )

    def finish(self, tenant: str, run_id: str, state: RunState, error: str = "") -> None:
        with unavailable_on_failure(), self._pool.connection() as conn:
            conn.execute(
                "UPDATE ingestion_runs SET state = %s, error = %s, ended_at = now(), updated_at = now() "
                "WHERE tenant = %s AND run_id = %s AND state = 'running'",
                (state.value, error, tenant, run_id),
            )

    def get(self, tenant: str, run_id: str) -> IngestionRun | None:
        with unavailable_on_failure(), self._pool.connection() as conn:
            row = conn.execute(
                f"SELECT {self._columns} FROM {_FROM} WHERE r.tenant = %s AND r.run_id = %s", (tenant, run_id)
            ).fetchone()
        return _run(row) if row else None

    def find_runs(self, tenant: str, where: RunFilter, offset: int, limit: int) -> list[IngestionRun]:
        conditions = ["r.tenant = %s"]
        params: list[Any] = [tenant]
        if where.source:
            conditions.append("r.source = %s")
            params.append(where.source)
        if where.started_from:
            conditions.append("r.started_at >= %s")
            params.append(where.started_from)
        if where.started_before:
            conditions.append("r.started_at < %s")
            params.append(where.started_before)
        if where.state is RunState.ABANDONED:
            conditions.append(self._abandoned)
        elif where.state is RunState.RUNNING:
            conditions.append(f"r.state = 'running' AND NOT {self._abandoned}")
        elif where.state is not None:
            conditions.append("r.state = %s")
            params.append(where.state.value)
        with unavailable_on_failure(), self._pool.connection() as conn:
            rows = conn.execute(
                f"SELECT {self._columns} FROM {_FROM} WHERE {' AND '.join(conditions)} "
                "ORDER BY r.started_at DESC, r.run_id DESC OFFSET %s LIMIT %s",
                (*params, offset, limit),
            ).fetchall()
        return [_run(row) for row in rows]

    def source_stats(self, tenant: str, since: dt.datetime) -> list[SourceStats]:
        recent = "r.started_at >= %(since)s"
        failed = f"(r.state = 'failed' OR {self._abandoned})"
        finished = f"(r.state IN ('succeeded', 'failed') OR {self._abandoned})"
        with unavailable_on_failure(), self._pool.connection() as conn:
            rows = conn.execute(
                f"SELECT r.source, count(*) FILTER (WHERE {recent}), "
                f"count(*) FILTER (WHERE {recent} AND {failed}), "
                f"count(*) FILTER (WHERE {recent} AND {finished}), "
                f"coalesce(sum(r.rows_accepted) FILTER (WHERE {recent}), 0)::bigint, "
                f"coalesce(sum(r.rows_rejected) FILTER (WHERE {recent}), 0)::bigint, "
                "max(r.ended_at) FILTER (WHERE r.state = 'succeeded'), max(r.newest_date) "
                f"FROM {_FROM} WHERE r.tenant = %(tenant)s GROUP BY r.source ORDER BY r.source",
                {"since": since, "tenant": tenant},
            ).fetchall()
        return [SourceStats(*row) for row in rows]

    def stream_progress(self, tenant: str, stream_id: str) -> tuple[str, int]:
        with unavailable_on_failure(), self._pool.connection() as conn:
            row = conn.execute(
                "SELECT last_batch_id, committed_batches FROM ingest_streams "
                "WHERE tenant = %s AND stream_id = %s",
                (tenant, stream_id),
            ).fetchone()
        return (row[0], row[1]) if row else ("", 0)


def _run(row: tuple[Any, ...]) -> IngestionRun:
    (run_id, source, stream_id, state, started, ended, updated, batches, accepted, rejected, duplicate,
     size, ignored, missing, platforms, oldest, newest, error) = row  # fmt: skip
    return IngestionRun(
        run_id=run_id,
        source=source,
        stream_id=stream_id,
        state=RunState(state),
        started_at=started,
        ended_at=ended,
        updated_at=updated,
        batches=batches,
        rows_accepted=accepted,
        rows_rejected=rejected,
        rows_duplicate=duplicate,
        bytes=size,
        ignored_columns=tuple(ignored),
        missing_columns=tuple(missing),
        platforms=tuple(platforms),
        oldest_date=oldest,
        newest_date=newest,
        error=error,
    )


class Heartbeat:
    """Tells other servers this one is alive, so its running streams are not called abandoned."""

    def __init__(self, pool: Pool, instance_id: str, seconds: float) -> None:
        self._pool = pool
        self._instance_id = instance_id
        self._seconds = seconds
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name="heartbeat", daemon=True)

    def start(self) -> None:
        self._upsert()
        self._thread.start()

    def stop(self) -> None:
        """Leaves the registry: runs this server still holds now read as abandoned."""
        self._stop.set()
        self._thread.join()
        with unavailable_on_failure(), self._pool.connection() as conn:
            conn.execute("DELETE FROM server_instances WHERE instance_id = %s", (self._instance_id,))

    def _upsert(self) -> None:
        with unavailable_on_failure(), self._pool.connection() as conn:
            conn.execute(
                "INSERT INTO server_instances (instance_id) VALUES (%s) ON CONFLICT (instance_id) "
                "DO UPDATE SET heartbeat_at = now()",
                (self._instance_id,),
            )

    def _beat(self) -> None:
        while not self._stop.wait(self._seconds):
            try:
                self._upsert()
            except Exception:
                log.warning("heartbeat failed; will retry", exc_info=True)
