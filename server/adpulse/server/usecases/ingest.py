"""Ingest: a batch is validated by the kernel, stored once, and remembered in the ledger.

Order of effects for one batch: look the id up (a committed replay stops here), parse and
validate, claim the id (an exclusive hold; the entry is pending with a new version), record
the outcome on the pending entry, insert into the fact table (which also rebuilds the rollup
rows the batch touched), bump the tenant's data version (so every server's result cache misses
from now on), commit the entry (a state flip that no content can make fail), release the hold.
A crash before the commit leaves at most a needless bump. Streams racing on one id queue on the
hold, and all but the first find it committed: a replay. A crash between the insert and the
commit leaves a pending entry; the client's retry with the same content re-inserts under the
same version, which the fact table's replace-by-key makes harmless, and commits. A reused id
with other content is refused at the lookup or the claim, before anything is stored.

Every stream is an ingestion run; the run's counters follow the ledger (a crash between the
two leaves the run short by one batch, and the run reads as abandoned anyway).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import TYPE_CHECKING

import pyarrow.compute as pc

from adpulse._kernel import PayloadError
from adpulse.server.domain.errors import (
    AlreadyExists,
    FailedPrecondition,
    FieldViolation,
    InvalidArgument,
    Overloaded,
    ResourceExhausted,
)
from adpulse.server.domain.ingest import (
    MAX_ROW_ERRORS,
    BatchFootprint,
    BatchOutcome,
    BatchPayload,
    DriftPolicy,
    IngestStream,
    LedgerEntry,
    RejectPolicy,
    RowError,
    StreamSpec,
    validate_batch_id,
)
from adpulse.server.domain.runs import RunState
from adpulse.server.ports import BatchLedger, DataVersions, FactStore, Kernel, RunStore

if TYPE_CHECKING:
    import pyarrow as pa

    from adpulse._kernel import ParsedBatch


class IngestUseCase:
    def __init__(
        self,
        kernel: Kernel,
        facts: FactStore,
        ledger: BatchLedger,
        runs: RunStore,
        *,
        versions: DataVersions,
        max_decompressed_bytes: int = 256 << 20,
        max_line_bytes: int = 1 << 20,
        row_quota: Callable[[str, int], None] = lambda tenant, rows: None,
    ) -> None:
        self._kernel = kernel
        self._facts = facts
        self._ledger = ledger
        self._runs = runs
        self._versions = versions
        self._max_decompressed_bytes = max_decompressed_bytes
        self.max_line_bytes = max_line_bytes  # also where file imports cut their lines
        # Raises Overloaded when the tenant is over its ingest-rows rate.
        self._row_quota = row_quota

    def open_stream(self, tenant: str, spec: StreamSpec) -> IngestStream:
        """Checks the source and its options, starts a run, and finds where the stream got to."""
        if spec.stream_id:
            validate_batch_id(spec.stream_id, "open.stream_id")
        try:
            self._kernel.check_source_options(spec.source, spec.options)
        except PayloadError as err:
            code, message = err.args
            field = "open.source" if code == "UNKNOWN_SOURCE" else "open.source_options"
            raise InvalidArgument(message, code, violations=[FieldViolation(field, message, code)]) from None
        last_batch, committed = (
            self._runs.stream_progress(tenant, spec.stream_id) if spec.stream_id else ("", 0)
        )
        run_id = self._runs.start(tenant, spec.source, spec.stream_id)
        return IngestStream(tenant, spec, run_id, last_batch, committed)

    def finish_stream(self, stream: IngestStream, state: RunState, error: str = "") -> None:
        self._runs.finish(stream.tenant, stream.run_id, state, error)

    def ingest_batch(self, stream: IngestStream, payload: BatchPayload) -> BatchOutcome:
        batch_id = validate_batch_id(payload.batch_id, "batch.batch_id")
        digest = _digest(stream.spec, payload)
        known = self._ledger.find(stream.tenant, batch_id)
        if known is not None:
            _check_same_content(known, digest)
            if known.outcome is not None:
                return self._replay(stream, known.outcome, payload)
        parsed = self._parse(stream, payload)
        self._row_quota(stream.tenant, parsed.rows_total)
        outcome = _outcome(batch_id, parsed)
        self._check_drift(stream, outcome)
        facts = parsed.facts
        with self._ledger.claim(stream.tenant, batch_id, digest, stream.run_id) as claim:
            _check_same_content(claim.entry, digest)
            if claim.entry.outcome is not None:  # a concurrent stream stored it meanwhile
                return self._replay(stream, claim.entry.outcome, payload)
            claim.record(outcome)
            self._facts.insert(stream.tenant, claim.entry.version, facts)
            if facts.num_rows:
                self._versions.bump(stream.tenant)
            claim.commit()
        self._runs.record_batch(
            stream.tenant, stream.run_id, stream.spec.stream_id, outcome, _footprint(payload, facts)
        )
        return outcome

    def _replay(self, stream: IngestStream, stored: BatchOutcome, payload: BatchPayload) -> BatchOutcome:
        replay = stored.as_replay()
        self._runs.record_batch(
            stream.tenant, stream.run_id, stream.spec.stream_id, replay, BatchFootprint(payload.size)
        )
        return replay

    def _parse(self, stream: IngestStream, payload: BatchPayload) -> ParsedBatch:
        spec = stream.spec
        try:
            parsed = self._kernel.parse_batch(
                payload.data,
                payload.fmt,
                spec.source,
                MAX_ROW_ERRORS,
                offset=payload.offset,
                length=payload.size,
                options=spec.options,
                compression=payload.compression,
                clicks_over_impressions=spec.clicks.value,
                max_decompressed_bytes=self._max_decompressed_bytes,
                max_line_bytes=self.max_line_bytes,
            )
        except PayloadError as err:
            code, message = err.args
            if code == "DECOMPRESSION_BUSY":
                raise Overloaded(
                    f"batch {payload.batch_id!r}: {message}",
                    code,
                    metadata={"batch_id": payload.batch_id},
                    subject="decompressed_bytes",
                ) from None
            error_type = ResourceExhausted if code == "PAYLOAD_TOO_LARGE" else InvalidArgument
            raise error_type(
                f"batch {payload.batch_id!r}: {message}",
                code,
                metadata={"batch_id": payload.batch_id},
                violations=[FieldViolation("batch", message, code)],
            ) from None
        if spec.policy is RejectPolicy.ALL_OR_NOTHING and parsed.rows_rejected:
            errors = [RowError(e.row, e.line, e.field, e.reason) for e in parsed.errors]
            raise InvalidArgument(
                f"batch {payload.batch_id!r}: {parsed.rows_rejected} of {parsed.rows_total} rows are invalid "
                "and the stream is all-or-nothing, so nothing of the batch was stored",
                reason="INVALID_ROWS",
                metadata={"batch_id": payload.batch_id, "rejected": str(parsed.rows_rejected)},
                violations=[e.as_violation() for e in errors],
            )
        return parsed

    def _check_drift(self, stream: IngestStream, outcome: BatchOutcome) -> None:
        if stream.spec.drift is not DriftPolicy.FAIL:
            return
        drift = [f"unknown column {c!r}" for c in outcome.ignored_columns]
        drift += [f"missing column {c!r}" for c in outcome.missing_columns]
        if drift:
            raise FailedPrecondition(
                f"batch {outcome.batch_id!r}: schema drift ({'; '.join(drift)}) and the stream's drift "
                "policy is FAIL, so nothing of the batch was stored",
                "SCHEMA_DRIFT",
                metadata={
                    "batch_id": outcome.batch_id,
                    "ignored_columns": ",".join(outcome.ignored_columns),
                    "missing_columns": ",".join(outcome.missing_columns),
                },
            )


def _outcome(batch_id: str, parsed: ParsedBatch) -> BatchOutcome:
    return BatchOutcome(
        batch_id=batch_id,
        accepted=parsed.facts.num_rows,
        rejected=parsed.rows_rejected,
        duplicates=parsed.rows_superseded,
        errors=tuple(RowError(e.row, e.line, e.field, e.reason) for e in parsed.errors),
        errors_truncated=parsed.errors_truncated,
        ignored_columns=tuple(parsed.ignored_columns),
        missing_columns=tuple(parsed.missing_columns),
        warnings=tuple(RowError(e.row, e.line, e.field, e.reason) for e in parsed.warnings),
        warnings_truncated=parsed.warnings_truncated,
    )


def _footprint(payload: BatchPayload, facts: pa.RecordBatch) -> BatchFootprint:
    if facts.num_rows == 0:
        return BatchFootprint(payload.size)
    dates = pc.min_max(facts.column("date"))
    platforms = pc.unique(facts.column("platform")).to_pylist()
    return BatchFootprint(payload.size, dates["min"].as_py(), dates["max"].as_py(), tuple(sorted(platforms)))


def _digest(spec: StreamSpec, payload: BatchPayload) -> str:
    """The batch's identity: its bytes and everything that decides which rows they yield, so a
    replay read under other source options or clicks policy is a mismatch, not a no-op."""
    options = "\0".join(f"{k}={v}" for k, v in sorted(spec.options.items()))
    reading = f"{spec.source}\0{options}\0{spec.clicks.value}\0{payload.fmt}\0{payload.compression}\0"
    h = hashlib.sha256(reading.encode())
    h.update(payload.view())
    return h.hexdigest()


def _check_same_content(entry: LedgerEntry, digest: str) -> None:
    if entry.digest != digest:
        raise AlreadyExists(
            f"batch id {entry.batch_id!r} was already used for other content; "
            "send new content under a new batch id",
            reason="BATCH_ID_REUSED",
            metadata={"batch_id": entry.batch_id},
        )
