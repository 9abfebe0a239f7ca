"""Looking back at ingestion: runs, per-source health, freshness, and loader checkpoints."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from adpulse.server.domain.errors import Aborted, FieldViolation, InvalidArgument, NotFound
from adpulse.server.domain.restatement import DEFAULT_WINDOW_DAYS, RestatementWindows
from adpulse.server.domain.runs import (
    Checkpoint,
    IngestionRun,
    PlatformFreshness,
    RunFilter,
    SourceStats,
)
from adpulse.server.ports import CheckpointStore, FactStore, Kernel, RunStore

DEFAULT_STATS_DAYS = 30


@dataclass(frozen=True)
class IngestionStats:
    sources: list[SourceStats]
    platforms: list[PlatformFreshness]


class IngestionRunsUseCase:
    def __init__(
        self,
        kernel: Kernel,
        runs: RunStore,
        facts: FactStore,
        checkpoints: CheckpointStore,
        windows: RestatementWindows,
    ) -> None:
        self._kernel = kernel
        self._runs = runs
        self._facts = facts
        self._checkpoints = checkpoints
        self._windows = windows

    def list_runs(self, tenant: str, where: RunFilter, offset: int, limit: int) -> list[IngestionRun]:
        return self._runs.find_runs(tenant, where, offset, limit)

    def get_run(self, tenant: str, run_id: str) -> IngestionRun:
        run = self._runs.get(tenant, run_id)
        if run is None:
            raise NotFound(f"no ingestion run {run_id!r}", "RUN_NOT_FOUND", metadata={"run_id": run_id})
        return run

    def stats(self, tenant: str, window_days: int) -> IngestionStats:
        if window_days < 0:
            raise InvalidArgument(
                "window_days must not be negative",
                "INVALID_WINDOW",
                violations=[FieldViolation("window_days", "must not be negative", "INVALID_WINDOW")],
            )
        since = dt.datetime.now(dt.UTC) - dt.timedelta(days=window_days or DEFAULT_STATS_DAYS)
        today = dt.date.today()
        platforms = [
            PlatformFreshness(
                platform=platform,
                newest_date=newest,
                rows=rows,
                restatement_days=self._windows.days(platform),
                provisional_from=self._windows.provisional_from(platform, today),
            )
            for platform, newest, rows in self._facts.platform_freshness(tenant)
        ]
        return IngestionStats(self._runs.source_stats(tenant, since), platforms)

    # -- checkpoints

    def restatement_days(self, source: str) -> int:
        """A platform source restates like its platform; `generic` mixes them, so the longest."""
        if source in DEFAULT_WINDOW_DAYS or source in self._windows.overrides:
            return self._windows.days(source)
        return max(self._windows.days(p) for p in (*DEFAULT_WINDOW_DAYS, *self._windows.overrides))

    def get_checkpoint(self, tenant: str, source: str, name: str) -> Checkpoint:
        self._check_source(source)
        checkpoint = self._checkpoints.get(tenant, source, name)
        if checkpoint is None:
            raise NotFound(
                f"no checkpoint for source {source!r}, loader {name!r} yet",
                "CHECKPOINT_NOT_FOUND",
                metadata={"source": source, "name": name},
            )
        return checkpoint

    def update_checkpoint(
        self, tenant: str, checkpoint: Checkpoint, expected_cursor: str | None
    ) -> Checkpoint:
        self._check_source(checkpoint.source)
        stored = self._checkpoints.put(tenant, checkpoint, expected_cursor)
        if stored is None:
            raise Aborted(
                f"the checkpoint's cursor is no longer {expected_cursor!r}; another loader moved it",
                "CHECKPOINT_MOVED",
                metadata={"source": checkpoint.source, "name": checkpoint.name},
            )
        return stored

    def _check_source(self, source: str) -> None:
        if source not in self._kernel.SOURCES:
            raise InvalidArgument(
                f"unknown source {source!r}; known sources: {', '.join(self._kernel.SOURCES)}",
                "UNKNOWN_SOURCE",
                violations=[FieldViolation("source", "unknown source", "UNKNOWN_SOURCE")],
            )
