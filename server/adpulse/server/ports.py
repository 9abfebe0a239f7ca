"""The small interfaces use cases depend on; adapters implement them, composition wires them."""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Protocol

from adpulse.server.domain.ingest import BatchOutcome, LedgerEntry, PayloadFormat
from adpulse.server.domain.metrics_query import FactSelection, GroupColumn

if TYPE_CHECKING:
    import pyarrow as pa

    from adpulse._kernel import ParsedBatch


class Kernel(Protocol):
    """The compute kernel (the Rust module `adpulse._kernel`, or a wrapper of it)."""

    @property
    def SOURCES(self) -> tuple[str, ...]: ...  # noqa: N802 - mirrors the module constant

    def parse_batch(
        self, payload: bytes, fmt: PayloadFormat, source: str = ..., max_errors: int = ...
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
