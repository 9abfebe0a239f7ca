"""The ingest vocabulary: streams, batches, row errors and batch outcomes."""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from typing import Literal

from adpulse.server.domain.errors import FieldViolation, InvalidArgument

PayloadFormat = Literal["csv", "ndjson", "arrow_ipc", "proto_rows"]

MAX_ROW_ERRORS = 1000
_BATCH_ID = re.compile(r"[A-Za-z0-9._:/-]{1,128}")


class RejectPolicy(enum.Enum):
    """What happens to a batch with bad rows."""

    KEEP_GOOD_ROWS = "keep_good_rows"
    ALL_OR_NOTHING = "all_or_nothing"


@dataclass(frozen=True)
class IngestStream:
    """An open ingest stream: whose rows, in which layout, under which policy."""

    tenant: str
    source: str
    policy: RejectPolicy
    stream_id: str


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
            replayed=True,
        )


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


def validate_batch_id(batch_id: str) -> str:
    if not _BATCH_ID.fullmatch(batch_id):
        raise InvalidArgument(
            f"batch id {batch_id!r} is not valid: 1 to 128 of A-Z a-z 0-9 . _ : / -",
            reason="INVALID_BATCH_ID",
            violations=[
                FieldViolation("batch.batch_id", "1 to 128 of A-Z a-z 0-9 . _ : / -", "INVALID_BATCH_ID")
            ],
        )
    return batch_id
