"""The small interfaces use cases depend on; adapters implement them, composition wires them."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any, BinaryIO, Protocol

from adpulse.server.domain.access import ApiKey, Tenant
from adpulse.server.domain.audit import AuditEvent, AuditQuery
from adpulse.server.domain.fx import FxRate, MissingRate
from adpulse.server.domain.ingest import BatchFootprint, BatchOutcome, LedgerEntry
from adpulse.server.domain.insights import Budget, Insight, InsightFilter, InsightUpdate
from adpulse.server.domain.metrics_query import FactSelection, Granularity, GroupColumn
from adpulse.server.domain.operations import (
    Operation,
    OperationError,
    OperationFilter,
    OperationKind,
    OperationState,
    Progress,
)
from adpulse.server.domain.query_plan import Source
from adpulse.server.domain.runs import Checkpoint, IngestionRun, RunFilter, RunState, SourceStats
from adpulse.server.domain.search import SearchPage, SearchQuery

if TYPE_CHECKING:
    from pathlib import Path

    import pyarrow as pa

    from adpulse._kernel import ClicksPolicy, Compression, Explanation, ParsedBatch, PayloadFormat


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

    def trends_history_start(
        self, granularity: str, start: dt.date, end: dt.date, moving_average: int = ...
    ) -> dt.date: ...

    def trends(  # noqa: PLR0917 - mirrors the kernel's signature
        self,
        table: pa.Table,
        keys: Sequence[str],
        metrics: Sequence[str],
        granularity: str,
        start: dt.date,
        end: dt.date,
        *,
        moving_average: int = ...,
        carry: Sequence[str] = ...,
    ) -> tuple[pa.Table, pa.Table]: ...

    def detect_anomalies(
        self,
        table: pa.Table,
        keys: Sequence[str],
        metric: str,
        start: dt.date,
        end: dt.date,
        *,
        method: str = ...,
        threshold: float = ...,
        change_threshold: float = ...,
        cold_start_factor: float = ...,
        window: int = ...,
        min_change: float | None = ...,
        all_points: bool = ...,
        provisional_from: Mapping[str, dt.date] = ...,
        default_provisional_from: dt.date | None = ...,
        carry: Sequence[str] = ...,
        rate_threshold: float = ...,
        corroboration: float = ...,
        run_threshold: float = ...,
        run_factor: float = ...,
        relative_floor: float = ...,
    ) -> tuple[pa.Table, pa.Table]: ...

    def explain_change(
        self,
        table: pa.Table,
        dimensions: Sequence[tuple[str, Sequence[str], Sequence[str]]],
        metric: str,
        *,
        limit: int = ...,
    ) -> Explanation: ...

    def reallocate_budget(
        self,
        table: pa.Table,
        keys: Sequence[str],
        *,
        max_shift: float = ...,
        min_days: int = ...,
        carry: Sequence[str] = ...,
    ) -> pa.Table: ...

    def budget_pacing(  # noqa: PLR0917 - mirrors the kernel's signature
        self,
        spend: pa.Table,
        keys: Sequence[str],
        budgets: pa.Table,
        month_start: dt.date,
        month_end: dt.date,
        as_of: dt.date,
    ) -> pa.Table: ...

    def compare_to_parent(
        self,
        table: pa.Table,
        keys: Sequence[str],
        parent_keys: Sequence[str],
        metric: str,
        *,
        carry: Sequence[str] = ...,
    ) -> pa.Table: ...


class BatchClaim(Protocol):
    """Exclusive hold on one batch id while its rows are stored."""

    @property
    def entry(self) -> LedgerEntry:
        """The ledger's entry for the id: new and pending, pending from a failed try, or committed."""

    def record(self, outcome: BatchOutcome) -> None:
        """Writes the outcome on the pending entry, before the facts are stored: whatever the
        store could refuse of it (text, sizes) it refuses while nothing is stored yet."""

    def commit(self) -> None:
        """Marks the recorded batch committed: a state change only, after the facts are stored."""


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

    def retention_days(self, tenant: str) -> int:
        """Days the tenant's facts are kept; 0 for ever."""

    def set_retention_days(self, tenant: str, days: int) -> None: ...


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
        source: Source | None = ...,
    ) -> pa.Table:
        """Sums of the measures of the selected rows, grouped by `groups` and currency; with a
        reporting currency, money is converted row by row at the row date's rate first (a row
        lacking one keeps its own currency and amount). They come from `source`, which must
        hold every column used; by default from the coarsest rollup that can answer
        (domain/query_plan.py), which gives the same sums."""

    def count_groups(
        self,
        selection: FactSelection,
        key_columns: Sequence[str],
        at_most: int,
        granularity: Granularity = Granularity.DAY,
    ) -> int:
        """How many distinct values of `key_columns` (a `date` bucketed by `granularity`) the
        selected rows have, counting no further than `at_most`: the size of a grouping known
        before it is fetched."""

    def missing_rates(self, selection: FactSelection, reporting_currency: str) -> list[MissingRate]:
        """Currencies of selected rows lacking a rate to `reporting_currency` on their date."""

    def platform_freshness(self, tenant: str) -> list[tuple[str, dt.date, int]]:
        """(platform, newest data date, rows) of the tenant's stored data."""

    def stream_grouped_sums(
        self,
        selection: FactSelection,
        groups: Sequence[GroupColumn],
        latest_campaign_name: bool,
        reporting_currency: str = "",
        *,
        after: Sequence[str] = ...,
        block_rows: int = ...,
    ) -> Iterator[pa.RecordBatch]:
        """`grouped_sums` in batches of at most `block_rows`, ordered by `groups`, so all rows of
        a group (one per currency) are adjacent; memory stays flat however many groups there
        are. With `after` (a group's key values, dates in ISO form), only the groups after it."""

    def date_span(self, selection: FactSelection) -> tuple[dt.date, dt.date] | None:
        """First and last date of the selected rows; None when there are none."""

    def platforms(self, selection: FactSelection) -> list[str]:
        """The platforms of the selected rows."""


class DataVersions(Protocol):
    """Each tenant's data version, in a store every server process shares."""

    def current(self, tenant: str) -> int:
        """The tenant's version; 0 before its first change."""

    def bump(self, tenant: str) -> int:
        """Marks a change of the tenant's data (after it is stored); the new version."""


class FxRateStore(Protocol):
    def upsert(self, tenant: str, rates: Sequence[FxRate]) -> None:
        """Adds rates; a rate for the same tenant, date and pair replaces the earlier one."""


class OperationClaim(Protocol):
    """A running operation, held by one worker until the block that claimed it ends."""

    @property
    def operation(self) -> Operation: ...

    def report(self, progress: Progress, checkpoint: Mapping[str, Any]) -> bool:
        """Records progress and where the work stands; True when a cancel was requested."""

    def heartbeat(self) -> None:
        """Shows the worker is alive (update_time moves)."""

    def requeue(self, step: str) -> None:
        """Lets go of the operation for a later task to continue."""

    def finish(
        self,
        state: OperationState,
        progress: Progress,
        result: Mapping[str, Any] | None = ...,
        error: OperationError | None = ...,
    ) -> None: ...


class OperationStore(Protocol):
    """Long-running operations and their state; the single truth about each."""

    def create(
        self, tenant: str, kind: OperationKind, params: Mapping[str, Any], request_id: str
    ) -> tuple[Operation, bool]:
        """A new queued operation (True), or the one an earlier call with this request id made."""

    def get(self, tenant: str, op_id: str) -> Operation | None: ...

    def find(self, tenant: str, where: OperationFilter, offset: int, limit: int) -> list[Operation]:
        """Newest first."""

    def request_cancel(self, tenant: str, op_id: str, error: OperationError) -> Operation | None:
        """Asks the worker to stop; a queued operation is cancelled with `error` at once."""

    def delete(self, tenant: str, op_id: str) -> Operation | None:
        """Forgets a finished operation; the deleted one, None if there was none."""

    def claim(self, op_id: str, owner: str) -> AbstractContextManager[OperationClaim | None]:
        """Holds the operation for the block and marks it running; None when it is done, gone,
        or a live worker has it."""

    def reconcile(self, requeue_after: dt.timedelta) -> list[str]:
        """Ids of operations to send to the workers again (their worker died, or their
        message may be lost)."""

    def batch_totals(self, tenant: str, batch_ids: Sequence[str]) -> tuple[int, int, int]:
        """(accepted, rejected, duplicates) the ledger recorded when these batches committed."""

    def tenants(self) -> list[str]:
        """Every tenant that stored data or settings."""


class JobQueue(Protocol):
    """Hands operations to the workers (Celery); a message names only the operation."""

    def enqueue(self, op_id: str) -> None: ...


class FileArea(Protocol):
    """Files the server reads or writes for jobs, confined to one directory per purpose."""

    def open_import(self, tenant: str, path: str) -> BinaryIO:
        """Opens a file to import; NOT_FOUND or INVALID_ARGUMENT/PERMISSION_DENIED for a path
        outside the import directory (never naming the server's directories)."""

    def import_size(self, tenant: str, path: str) -> int:
        """Size of a file to import; checks the path like `open_import`."""

    def remove_upload(self, tenant: str, path: str) -> None:
        """Removes an uploaded file once it was imported (other files are left alone)."""

    def save_upload(
        self, tenant: str, file_name: str, chunks: Iterable[bytes], max_bytes: int
    ) -> tuple[str, int, str]:
        """Stores an uploaded file; (its path for an import, size, sha256 hex)."""

    def require_room(self, tenant: str) -> None:
        """QUOTA_EXCEEDED when the tenant's uploads and exports fill its storage quota."""

    def export_path(self, tenant: str, op_id: str, suffix: str) -> Path:
        """Where an operation's export file goes."""

    def count_files(self, tenant: str) -> dict[str, int]:
        """Files the tenant has, per area."""

    def delete_files(self, tenant: str) -> dict[str, int]:
        """Removes all of the tenant's files; files removed, per area."""

    def expire(self, tenant: str, before: dt.datetime) -> dict[str, int]:
        """Removes uploads and exports last written before `before`; files removed, per area."""


class Rollups(Protocol):
    """Tables derived from the facts."""

    def rebuild(self, tenant: str, first: dt.date, last: dt.date) -> int:
        """Re-derives the daily rollups of the days; the campaign rollup's rows over the days."""

    def mismatches(self, tenant: str, first: dt.date, last: dt.date) -> list[str]:
        """`rollup:currency` pairs whose rollup sums over the days differ from the facts'."""


class DimensionSearch(Protocol):
    """The tenant's accounts, campaigns, ad groups and ads by id or name."""

    def search(self, query: SearchQuery) -> SearchPage:
        """One page of the values matching, highest recent cost first."""


class InsightStore(Protocol):
    """Insights with their status and feedback, and the monthly budgets pacing reads."""

    def save(self, tenant: str, insights: Sequence[Insight]) -> list[Insight]:
        """Inserts new insights, refreshes known ones (keeping status and feedback); returns them
        as stored."""

    def page(self, tenant: str, chosen: InsightFilter, offset: int, limit: int) -> tuple[list[Insight], int]:
        """A page of insights, highest priority first, and how many match in all."""

    def update(self, change: InsightUpdate) -> Insight | None:
        """Changes status and/or feedback; None when the insight does not exist."""

    def set_budget(self, tenant: str, budget: Budget) -> Budget:
        """Stores (or replaces) the budget of its campaign and month."""

    def budgets(
        self, tenant: str, month: dt.date | None, offset: int = ..., limit: int | None = ...
    ) -> tuple[list[Budget], int]:
        """A page of budgets (of one month, or all), and how many there are."""


class AccessStore(Protocol):
    """Tenants and API keys (keys stored by the digest of their secret only)."""

    def create_tenant(self, name: str) -> Tenant:
        """Registers a tenant; ALREADY_EXISTS if it is."""

    def tenant(self, name: str) -> Tenant | None: ...

    def tenants(self, offset: int, limit: int) -> list[Tenant]:
        """Registered tenants by name."""

    def add_key(self, key: ApiKey, *, only_if_none: bool = ...) -> bool:
        """Stores a new key; with `only_if_none`, only into an empty key store (False if not)."""

    def key(self, key_id: str) -> ApiKey | None: ...

    def keys(
        self, tenant: str | None, active_at: dt.datetime | None, offset: int, limit: int
    ) -> list[ApiKey]:
        """Keys newest first: of one tenant ("": the operator keys, None: all); with
        `active_at`, only those active then."""

    def revoke(self, key_id: str) -> ApiKey | None:
        """Marks the key revoked; None if there is no such key."""

    def touch(self, key_id: str, older_than: dt.timedelta) -> None:
        """Records a use of the key, unless one was recorded less than `older_than` ago."""


class InsightEvents(Protocol):
    """Told whenever insights were stored for a tenant (as the store returned them), so alerts
    can go out for those that are new."""

    def stored(self, tenant: str, insights: Sequence[Insight]) -> None: ...


class AuditLog(Protocol):
    """The audit log: appended to, never changed."""

    def append(self, event: AuditEvent) -> None: ...

    def events(self, query: AuditQuery, limit: int) -> list[AuditEvent]:
        """Up to `limit` events the query selects, newest first."""


class TenantRows(Protocol):
    """The tenant's rows in every Postgres table that has a `tenant` column."""

    def tables(self) -> list[str]: ...

    def rows(self, table: str, tenant: str) -> Iterator[str]:
        """The tenant's rows of `table` as JSON objects (text), secrets left out."""

    def count(self, table: str, tenant: str, keep_operation: str) -> int: ...

    def delete(self, table: str, tenant: str, keep_operation: str) -> int:
        """Deletes the tenant's rows of `table` (of its operations, all but `keep_operation`)."""


class TenantFacts(Protocol):
    """The tenant's rows in every ClickHouse table that has a `tenant` column."""

    def tables(self) -> list[str]: ...

    def batches(self, table: str, tenant: str) -> Iterator[pa.RecordBatch]:
        """The tenant's rows of `table`, latest version of each key; at least one batch (without
        rows when the tenant has none), so the columns are known."""

    def count(self, table: str, tenant: str) -> int: ...

    def delete(self, table: str, tenant: str) -> int:
        """Deletes the tenant's rows of `table`, waiting until they are gone; the rows deleted."""

    def delete_older(self, tenant: str, before: dt.date) -> int:
        """Deletes the tenant's facts dated before `before` and the rollups of those days (not
        the monthly rollup of the month `before` is in); the facts deleted."""
