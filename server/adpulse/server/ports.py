"""The small interfaces use cases depend on; adapters implement them, composition wires them."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Protocol

from adpulse.server.domain.ingest import BatchOutcome, LedgerEntry, PayloadFormat
from adpulse.server.domain.insights import Budget, Insight, InsightFilter, InsightUpdate
from adpulse.server.domain.metrics_query import FactSelection, GroupColumn

if TYPE_CHECKING:
    import pyarrow as pa

    from adpulse._kernel import Explanation, ParsedBatch


class Kernel(Protocol):
    """The compute kernel (the Rust module `adpulse._kernel`, or a wrapper of it)."""

    @property
    def SOURCES(self) -> tuple[str, ...]: ...  # noqa: N802 - mirrors the module constant

    def parse_batch(
        self, payload: bytes, fmt: PayloadFormat, source: str = ..., max_errors: int = ...
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
        window: int = ...,
        min_change: float | None = ...,
        all_points: bool = ...,
        provisional_from: Mapping[str, dt.date] = ...,
        default_provisional_from: dt.date | None = ...,
        carry: Sequence[str] = ...,
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

    def commit(self, outcome: BatchOutcome) -> None:
        """Marks the batch committed with its outcome."""


class BatchLedger(Protocol):
    """Remembers every batch id per tenant, so a replay is a no-op and a reuse is refused."""

    def find(self, tenant: str, batch_id: str) -> LedgerEntry | None:
        """The entry for this batch id, if any."""

    def claim(self, tenant: str, batch_id: str, digest: str) -> AbstractContextManager[BatchClaim]:
        """Holds the id for the block: a concurrent claim of it waits until the block ends.

        The entry is recorded as pending with a new version unless it exists already; a holder
        that dies releases the hold, so a retry can finish its pending work.
        """


class FactStore(Protocol):
    """The fact table: one row per tenant × date × platform × account × campaign × ad group × ad."""

    def insert(self, tenant: str, version: int, facts: pa.RecordBatch) -> None:
        """Stores rows; a row whose key exists replaces it when `version` is higher."""

    def grouped_sums(
        self, selection: FactSelection, groups: Sequence[GroupColumn], latest_campaign_name: bool
    ) -> pa.Table:
        """Sums of the measures of the selected rows, grouped by `groups` and currency."""

    def date_span(self, selection: FactSelection) -> tuple[dt.date, dt.date] | None:
        """First and last date of the selected rows; None when there are none."""

    def platforms(self, selection: FactSelection) -> list[str]:
        """The platforms of the selected rows."""


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
