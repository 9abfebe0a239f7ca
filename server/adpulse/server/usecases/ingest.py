"""Ingest: a batch is validated by the kernel, stored once, and remembered in the ledger.

Order of effects for one batch: look the id up (a committed replay stops here), parse and
validate, claim the id (an exclusive hold; the entry is pending with a new version), insert
into the fact table, commit the entry, release the hold. Streams racing on one id queue on the
hold, and all but the first find it committed: a replay. A crash between the insert and the
commit leaves a pending entry; the client's retry with the same content re-inserts under the
same version, which the fact table's replace-by-key makes harmless, and commits. A reused id
with other content is refused at the lookup or the claim, before anything is stored.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

from adpulse._kernel import PayloadError
from adpulse.server.domain.errors import AlreadyExists, FieldViolation, InvalidArgument
from adpulse.server.domain.ingest import (
    MAX_ROW_ERRORS,
    BatchOutcome,
    IngestStream,
    LedgerEntry,
    PayloadFormat,
    RejectPolicy,
    RowError,
    validate_batch_id,
)
from adpulse.server.ports import BatchLedger, FactStore, Kernel

if TYPE_CHECKING:
    import pyarrow as pa


class IngestUseCase:
    def __init__(self, kernel: Kernel, facts: FactStore, ledger: BatchLedger) -> None:
        self._kernel = kernel
        self._facts = facts
        self._ledger = ledger

    def open_stream(self, tenant: str, source: str, policy: RejectPolicy, stream_id: str) -> IngestStream:
        canonical = source.strip().lower() or "generic"
        if canonical not in self._kernel.SOURCES:
            raise InvalidArgument(
                f"unknown source {source!r}; known sources: {', '.join(self._kernel.SOURCES)}",
                reason="UNKNOWN_SOURCE",
                violations=[FieldViolation("open.source", "unknown source", "UNKNOWN_SOURCE")],
            )
        return IngestStream(tenant=tenant, source=canonical, policy=policy, stream_id=stream_id)

    def ingest_batch(
        self, stream: IngestStream, batch_id: str, payload: bytes, fmt: PayloadFormat
    ) -> BatchOutcome:
        validate_batch_id(batch_id)
        digest = _digest(stream.source, fmt, payload)
        known = self._ledger.find(stream.tenant, batch_id)
        if known is not None:
            _check_same_content(known, digest)
            if known.outcome is not None:
                return known.outcome.as_replay()
        outcome, facts = self._parse(stream, batch_id, payload, fmt)
        with self._ledger.claim(stream.tenant, batch_id, digest) as claim:
            _check_same_content(claim.entry, digest)
            if claim.entry.outcome is not None:  # a concurrent stream stored it meanwhile
                return claim.entry.outcome.as_replay()
            self._facts.insert(stream.tenant, claim.entry.version, facts)
            claim.commit(outcome)
        return outcome

    def _parse(
        self, stream: IngestStream, batch_id: str, payload: bytes, fmt: PayloadFormat
    ) -> tuple[BatchOutcome, pa.RecordBatch]:
        try:
            parsed = self._kernel.parse_batch(payload, fmt, stream.source, MAX_ROW_ERRORS)
        except PayloadError as err:
            code, message = err.args
            raise InvalidArgument(
                f"batch {batch_id!r}: {message}",
                reason=code,
                metadata={"batch_id": batch_id},
                violations=[FieldViolation("batch", message, code)],
            ) from None
        errors = tuple(RowError(e.row, e.line, e.field, e.reason) for e in parsed.errors)
        if stream.policy is RejectPolicy.ALL_OR_NOTHING and parsed.rows_rejected:
            raise InvalidArgument(
                f"batch {batch_id!r}: {parsed.rows_rejected} of {parsed.rows_total} rows are invalid "
                "and the stream is all-or-nothing, so nothing of the batch was stored",
                reason="INVALID_ROWS",
                metadata={"batch_id": batch_id, "rejected": str(parsed.rows_rejected)},
                violations=[e.as_violation() for e in errors],
            )
        facts = parsed.facts
        outcome = BatchOutcome(
            batch_id=batch_id,
            accepted=facts.num_rows,
            rejected=parsed.rows_rejected,
            duplicates=parsed.rows_superseded,
            errors=errors,
            errors_truncated=parsed.errors_truncated,
            ignored_columns=tuple(parsed.ignored_columns),
        )
        return outcome, facts


def _digest(source: str, fmt: str, payload: bytes) -> str:
    h = hashlib.sha256()
    h.update(f"{source}\0{fmt}\0".encode())
    h.update(payload)
    return h.hexdigest()


def _check_same_content(entry: LedgerEntry, digest: str) -> None:
    if entry.digest != digest:
        raise AlreadyExists(
            f"batch id {entry.batch_id!r} was already used for other content; "
            "send new content under a new batch id",
            reason="BATCH_ID_REUSED",
            metadata={"batch_id": entry.batch_id},
        )
