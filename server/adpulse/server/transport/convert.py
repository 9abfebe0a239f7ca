"""Protobuf <-> domain conversions shared by the servicers."""

from __future__ import annotations

import datetime as dt

from google.protobuf import timestamp_pb2

from adpulse.server.domain.errors import FieldViolation, InvalidArgument
from adpulse.server.domain.ingest import RowError
from adpulse.server.domain.runs import Checkpoint, IngestionRun, PlatformFreshness, RunState, SourceStats
from adpulse.v1 import ingest_service_pb2 as ipb
from adpulse.v1 import ingestion_run_pb2 as rpb

RUN_STATES = {
    RunState.RUNNING: rpb.RUN_STATE_RUNNING,
    RunState.SUCCEEDED: rpb.RUN_STATE_SUCCEEDED,
    RunState.FAILED: rpb.RUN_STATE_FAILED,
    RunState.CANCELLED: rpb.RUN_STATE_CANCELLED,
    RunState.ABANDONED: rpb.RUN_STATE_ABANDONED,
}
RUN_STATES_BY_PROTO = {v: k for k, v in RUN_STATES.items()}


def timestamp(value: dt.datetime | None) -> timestamp_pb2.Timestamp | None:
    if value is None:
        return None
    ts = timestamp_pb2.Timestamp()
    ts.FromDatetime(value)
    return ts


def datetime_of(ts: timestamp_pb2.Timestamp, present: bool) -> dt.datetime | None:
    return ts.ToDatetime(tzinfo=dt.UTC) if present else None


def iso(day: dt.date | None) -> str:
    return day.isoformat() if day else ""


def date_of(text: str, field: str) -> dt.date | None:
    if not text:
        return None
    try:
        if len(text) == 10:
            return dt.date.fromisoformat(text)
    except ValueError:
        pass
    raise InvalidArgument(
        f"{field} {text!r} is not a date (expected YYYY-MM-DD)",
        "INVALID_DATE",
        violations=[FieldViolation(field, "expected YYYY-MM-DD", "INVALID_DATE")],
    )


def row_errors(errors: tuple[RowError, ...]) -> list[ipb.RowError]:
    return [ipb.RowError(row=e.row, line=e.line, field=e.field, reason=e.reason) for e in errors]


def run(r: IngestionRun) -> rpb.IngestionRun:
    return rpb.IngestionRun(
        run_id=r.run_id,
        source=r.source,
        stream_id=r.stream_id,
        state=RUN_STATES[r.state],
        start_time=timestamp(r.started_at),
        end_time=timestamp(r.ended_at),
        batches=r.batches,
        rows_accepted=r.rows_accepted,
        rows_rejected=r.rows_rejected,
        rows_duplicate=r.rows_duplicate,
        bytes=r.bytes,
        ignored_columns=r.ignored_columns,
        missing_columns=r.missing_columns,
        error=r.error,
        oldest_data_date=iso(r.oldest_date),
        newest_data_date=iso(r.newest_date),
        platforms=r.platforms,
        update_time=timestamp(r.updated_at),
    )


def source_stats(s: SourceStats) -> rpb.SourceStats:
    stats = rpb.SourceStats(
        source=s.source,
        runs=s.runs,
        failed_runs=s.failed_runs,
        rows_accepted=s.rows_accepted,
        rows_rejected=s.rows_rejected,
        last_success_time=timestamp(s.last_success_at),
        newest_data_date=iso(s.newest_date),
    )
    if s.failure_rate is not None:
        stats.failure_rate.value = s.failure_rate
    return stats


def freshness(p: PlatformFreshness) -> rpb.PlatformFreshness:
    return rpb.PlatformFreshness(
        platform=p.platform,
        newest_data_date=iso(p.newest_date),
        restatement_days=p.restatement_days,
        provisional_from=iso(p.provisional_from),
        rows=p.rows,
    )


def checkpoint(c: Checkpoint, restatement_days: int) -> rpb.Checkpoint:
    reload_from = c.newest_date - dt.timedelta(days=restatement_days - 1) if c.newest_date else None
    return rpb.Checkpoint(
        source=c.source,
        name=c.name,
        cursor=c.cursor,
        newest_data_date=iso(c.newest_date),
        restatement_days=restatement_days,
        reload_from=iso(reload_from),
        update_time=timestamp(c.updated_at),
    )
