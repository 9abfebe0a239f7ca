"""Ingestion runs, source statistics, platform freshness and loader checkpoints."""

from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass


class RunState(enum.Enum):
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"
    ABANDONED = "abandoned"


@dataclass(frozen=True)
class IngestionRun:
    run_id: str
    source: str
    stream_id: str
    state: RunState
    started_at: dt.datetime
    ended_at: dt.datetime | None
    updated_at: dt.datetime
    batches: int
    rows_accepted: int
    rows_rejected: int
    rows_duplicate: int
    bytes: int
    ignored_columns: tuple[str, ...]
    missing_columns: tuple[str, ...]
    platforms: tuple[str, ...]
    oldest_date: dt.date | None
    newest_date: dt.date | None
    error: str


@dataclass(frozen=True)
class RunFilter:
    source: str = ""
    started_from: dt.datetime | None = None
    started_before: dt.datetime | None = None
    state: RunState | None = None


@dataclass(frozen=True)
class SourceStats:
    source: str
    runs: int
    failed_runs: int
    finished_runs: int
    rows_accepted: int
    rows_rejected: int
    last_success_at: dt.datetime | None
    newest_date: dt.date | None

    @property
    def failure_rate(self) -> float | None:
        return self.failed_runs / self.finished_runs if self.finished_runs else None


@dataclass(frozen=True)
class PlatformFreshness:
    platform: str
    newest_date: dt.date
    rows: int
    restatement_days: int
    provisional_from: dt.date


@dataclass(frozen=True)
class Checkpoint:
    source: str
    name: str
    cursor: str
    newest_date: dt.date | None
    updated_at: dt.datetime | None = None
