"""The small interfaces use cases depend on; adapters implement them, composition wires them."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Protocol

from adpulse.server.domain.fx import FxRate, MissingRate
from adpulse.server.domain.ingest import BatchFootprint, BatchOutcome, LedgerEntry
from adpulse.server.domain.metrics_query import FactSelection, GroupColumn
from adpulse.server.domain.runs import Checkpoint, IngestionRun, RunFilter, RunState, SourceStats

if TYPE_CHECKING:
    import pyarrow as pa

    from adpulse._kernel import ClicksPolicy, Compression, ParsedBatch, PayloadFormat


class Kernel(Protocol):
    """The compute kernel (the Rust module `adpulse._kernel`, or a wrapper of it)."""

    @property
    def SOURCES(self) -> tuple[str, ...]: ...  # noqa: N802 - mirrors the module constant

    def check_source_options(self, source: str, options: Mapping[str, str]) -> None: ...

    def parse_batch(
        self,
        payload: bytes,
        fmt: PayloadFormat,
        source: str = ...,
        max_errors: int = ...,
        *,
        offset: int = ...,
        length: int | None = ...,
        options: Mapping[str, str] | None = ...,
        compression: Compression = ...,
        clicks_over_impressions: ClicksPolicy = ...,
        max_decompressed_bytes: int = ...,
        max_line_bytes: int = ...,
    ) -> ParsedBatch: ...

    def aggregate(self, table: pa.Table, keys: Sequence[str], carry: Sequence[str] = ...) -> pa.Table: ...


class BatchClaim(Protocol):
    """Exclusive hold on one batch id while its rows are stored."""

    @property
    def entry(self) -> LedgerEntry:
        """The ledger's entry for the id: new and pending, pending from a failed try, or committed."""

    def commit(self, outcome: BatchOutcome) -> None:
        """Marks the batch committed with its outcome."""


class BatchLedger(Protocol):
    """Remembers every batch id per tenant, so a replay is a no-op and a reuse is refused."""

    def find(self, tenant: str, batch_id: str) -> LedgerEntry | None:
        """The entry for this batch id, if any."""

    def claim(
        self, tenant: str, batch_id: str, digest: str, run_id: str
    ) -> AbstractContextManager[BatchClaim]:
        """Holds the id for the block: a concurrent claim of it waits until the block ends.

        The entry is recorded as pending with a new version unless it exists already; a holder
        that dies releases the hold, so a retry can finish its pending work.
        """


class RunStore(Protocol):
    """Ingestion runs, the progress of named streams, and which servers are alive."""

    def start(self, tenant: str, source: str, stream_id: str) -> str:
        """Records a running run; its id."""

    def record_batch(
        self, tenant: str, run_id: str, stream_id: str, outcome: BatchOutcome, footprint: BatchFootprint
    ) -> None:
        """Adds a committed (or replayed) batch to its run and to its stream's progress."""

    def finish(self, tenant: str, run_id: str, state: RunState, error: str = "") -> None:
        """Ends a running run."""

    def get(self, tenant: str, run_id: str) -> IngestionRun | None: ...

    def find_runs(self, tenant: str, where: RunFilter, offset: int, limit: int) -> list[IngestionRun]:
        """Runs newest first."""

    def source_stats(self, tenant: str, since: dt.datetime) -> list[SourceStats]: ...

    def stream_progress(self, tenant: str, stream_id: str) -> tuple[str, int]:
        """The stream's last committed batch id ("" if none) and its count of committed batches."""


class CheckpointStore(Protocol):
    def get(self, tenant: str, source: str, name: str) -> Checkpoint | None: ...

    def put(self, tenant: str, checkpoint: Checkpoint, expected_cursor: str | None) -> Checkpoint | None:
        """Stores the checkpoint; None (nothing stored) when `expected_cursor` is set and differs."""


class TenantSettingsStore(Protocol):
    def reporting_currency(self, tenant: str) -> str:
        """ "" when the tenant reports each row in its own currency."""

    def set_reporting_currency(self, tenant: str, currency: str) -> None: ...


class FactStore(Protocol):
    """The fact table: one row per tenant × date × platform × account × campaign × ad group × ad."""

    def insert(self, tenant: str, version: int, facts: pa.RecordBatch) -> None:
        """Stores rows; a row whose key exists replaces it when `version` is higher."""

    def grouped_sums(
        self,
        selection: FactSelection,
        groups: Sequence[GroupColumn],
        latest_campaign_name: bool,
        reporting_currency: str = "",
    ) -> pa.Table:
        """Sums of the measures of the selected rows, grouped by `groups` and currency; with a
        reporting currency, money is converted row by row at the row date's rate first."""

    def missing_rates(self, selection: FactSelection, reporting_currency: str) -> list[MissingRate]:
        """Currencies of selected rows lacking a rate to `reporting_currency` on their date."""

    def platform_freshness(self, tenant: str) -> list[tuple[str, dt.date, int]]:
        """(platform, newest data date, rows) of the tenant's stored data."""


class FxRateStore(Protocol):
    def upsert(self, tenant: str, rates: Sequence[FxRate]) -> None:
        """Adds rates; a rate for the same tenant, date and pair replaces the earlier one."""
