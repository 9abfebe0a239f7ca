"""The ingest vocabulary: streams, batches, row errors and batch outcomes."""

from __future__ import annotations

import datetime as dt
import enum
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from adpulse.server.domain.errors import FieldViolation, InvalidArgument

PayloadFormat = Literal["csv", "ndjson", "arrow_ipc", "proto_rows"]
Compression = Literal["none", "gzip"]

MAX_ROW_ERRORS = 1000
_BATCH_ID = re.compile(r"[A-Za-z0-9._:/-]{1,128}")


class RejectPolicy(enum.Enum):
    """What happens to a batch with bad rows."""

    KEEP_GOOD_ROWS = "keep_good_rows"
    ALL_OR_NOTHING = "all_or_nothing"


class ClicksPolicy(enum.Enum):
    """What a row with more clicks than impressions is."""

    WARN = "warn"
    REJECT = "reject"


class DriftPolicy(enum.Enum):
    """What unknown or missing columns do."""

    REPORT = "report"
    FAIL = "fail"


@dataclass(frozen=True)
class StreamSpec:
    """What a client asks for when it opens a stream."""

    source: str
    policy: RejectPolicy = RejectPolicy.KEEP_GOOD_ROWS
    stream_id: str = ""
    options: Mapping[str, str] = field(default_factory=dict)
    clicks: ClicksPolicy = ClicksPolicy.WARN
    drift: DriftPolicy = DriftPolicy.REPORT


@dataclass(frozen=True)
class IngestStream:
    """An open ingest stream: whose rows, in which layout, under which policies, in which run."""

    tenant: str
    spec: StreamSpec
    run_id: str
    last_committed_batch_id: str = ""
    committed_batches: int = 0

    @property
    def source(self) -> str:
        return self.spec.source


@dataclass(frozen=True)
class BatchPayload:
    """One batch's rows as bytes: `data[offset:offset + length]`, so a payload can be read in
    place inside the request that carried it."""

    batch_id: str
    fmt: PayloadFormat
    data: bytes
    offset: int = 0
    length: int | None = None
    compression: Compression = "none"

    @property
    def size(self) -> int:
        return len(self.data) - self.offset if self.length is None else self.length

    def view(self) -> memoryview:
        return memoryview(self.data)[self.offset : self.offset + self.size]


@dataclass(frozen=True)
class RowError:
    """Why one row was rejected; `line` is 0 for payloads that are not text."""

    row: int
    line: int
    field: str
    reason: str

    def as_violation(self) -> FieldViolation:
        where = f"line {self.line}: " if self.line else ""
        column = f".{self.field}" if self.field else ""
        return FieldViolation(f"rows[{self.row}]{column}", f"{where}{self.reason}", "INVALID_ROW")


@dataclass(frozen=True)
class BatchOutcome:
    """What one batch did; every row counts once in accepted, rejected or duplicates."""

    batch_id: str
    accepted: int
    rejected: int
    duplicates: int
    errors: tuple[RowError, ...]
    errors_truncated: bool
    ignored_columns: tuple[str, ...]
    missing_columns: tuple[str, ...] = ()
    warnings: tuple[RowError, ...] = ()
    warnings_truncated: bool = False
    replayed: bool = False

    def as_replay(self) -> BatchOutcome:
        """The same batch sent again: nothing new is stored, its good rows are duplicates."""
        return BatchOutcome(
            batch_id=self.batch_id,
            accepted=0,
            rejected=self.rejected,
            duplicates=self.accepted + self.duplicates,
            errors=self.errors,
            errors_truncated=self.errors_truncated,
            ignored_columns=self.ignored_columns,
            missing_columns=self.missing_columns,
            warnings=self.warnings,
            warnings_truncated=self.warnings_truncated,
            replayed=True,
        )


@dataclass(frozen=True)
class BatchFootprint:
    """What a batch adds to its run beyond counts: bytes and the data it covered."""

    bytes: int
    oldest_date: dt.date | None = None
    newest_date: dt.date | None = None
    platforms: tuple[str, ...] = ()


@dataclass(frozen=True)
class LedgerEntry:
    """A batch id the ledger knows: claimed (pending) or committed with its outcome."""

    batch_id: str
    digest: str
    version: int
    outcome: BatchOutcome | None

    @property
    def committed(self) -> bool:
        return self.outcome is not None


def validate_batch_id(batch_id: str, field: str) -> str:
    """Batch and stream ids: safe in logs, keys and file names."""
    if not _BATCH_ID.fullmatch(batch_id):
        raise InvalidArgument(
            f"{field} {batch_id!r} is not valid: 1 to 128 of A-Z a-z 0-9 . _ : / -",
            reason="INVALID_ID",
            violations=[FieldViolation(field, "1 to 128 of A-Z a-z 0-9 . _ : / -", "INVALID_ID")],
        )
    return batch_id
