"""adpulse.v1.IngestService over the ingest and ingestion-runs use cases.

`Ingest` receives each request as raw bytes (see `grpc_server`): the kernel reads the envelope
and the rows straight from them, so no per-row Python object is ever built.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import grpc

from adpulse._kernel import PayloadError
from adpulse.server.domain.errors import AdpulseError, FieldViolation, InvalidArgument
from adpulse.server.domain.ingest import (
    BatchOutcome,
    BatchPayload,
    ClicksPolicy,
    DriftPolicy,
    RejectPolicy,
    StreamSpec,
)
from adpulse.server.domain.runs import Checkpoint, RunFilter, RunState
from adpulse.server.transport import boundary, convert, page_token
from adpulse.server.transport.tenancy import tenant_of
from adpulse.server.usecases.currency import CurrencyUseCase
from adpulse.server.usecases.ingest import IngestUseCase
from adpulse.server.usecases.ingestion_runs import IngestionRunsUseCase
from adpulse.v1 import ingest_service_pb2 as pb
from adpulse.v1 import ingest_service_pb2_grpc as pb_grpc
from adpulse.v1 import ingestion_run_pb2 as rpb

log = logging.getLogger(__name__)
_POLICIES = {
    pb.REJECT_POLICY_UNSPECIFIED: RejectPolicy.KEEP_GOOD_ROWS,
    pb.REJECT_POLICY_KEEP_GOOD_ROWS: RejectPolicy.KEEP_GOOD_ROWS,
    pb.REJECT_POLICY_ALL_OR_NOTHING: RejectPolicy.ALL_OR_NOTHING,
}
_CLICKS = {
    pb.CLICKS_POLICY_UNSPECIFIED: ClicksPolicy.WARN,
    pb.CLICKS_POLICY_WARN: ClicksPolicy.WARN,
    pb.CLICKS_POLICY_REJECT: ClicksPolicy.REJECT,
}
_DRIFT = {
    pb.DRIFT_POLICY_UNSPECIFIED: DriftPolicy.REPORT,
    pb.DRIFT_POLICY_REPORT: DriftPolicy.REPORT,
    pb.DRIFT_POLICY_FAIL: DriftPolicy.FAIL,
}
DEFAULT_RUNS_PAGE = 50
MAX_RUNS_PAGE = 1000


class IngestServicer(pb_grpc.IngestServiceServicer):
    def __init__(
        self, kernel: Any, ingest: IngestUseCase, runs: IngestionRunsUseCase, currency: CurrencyUseCase
    ) -> None:
        self._kernel = kernel
        self._ingest = ingest
        self._runs = runs
        self._currency = currency

    @boundary.streaming
    def Ingest(  # noqa: N802 - the RPC's name
        self, request_iterator: Iterator[bytes], context: grpc.ServicerContext
    ) -> Iterator[pb.IngestResponse]:
        tenant = tenant_of(context)
        first = next(request_iterator, None)
        if first is None:
            return
        if self._inspect(first).kind != "open":
            raise _misplaced("the first message of an ingest stream must be `open`")
        stream = self._ingest.open_stream(tenant, _spec(pb.IngestRequest.FromString(first).open))
        state, error = RunState.FAILED, "the stream ended abnormally"
        try:
            yield pb.IngestResponse(
                opened=pb.StreamOpened(
                    stream_id=stream.spec.stream_id,
                    source=stream.source,
                    run_id=stream.run_id,
                    last_committed_batch_id=stream.last_committed_batch_id,
                    committed_batches=stream.committed_batches,
                )
            )
            for raw in request_iterator:
                header = self._inspect(raw)
                if header.kind != "batch":
                    raise _misplaced("`open` may only be the first message of a stream")
                outcome = self._ingest.ingest_batch(stream, _payload(header, raw))
                yield pb.IngestResponse(ack=_ack(outcome))
            state, error = RunState.SUCCEEDED, ""
        except AdpulseError as err:
            error = err.message
            raise
        finally:
            if state is RunState.FAILED and not context.is_active():
                state, error = RunState.CANCELLED, ""
            try:
                self._ingest.finish_stream(stream, state, error)
            except Exception:
                log.warning("could not record the end of run %s", stream.run_id, exc_info=True)

    def _inspect(self, raw: bytes) -> Any:
        try:
            return self._kernel.inspect_request(raw)
        except PayloadError as err:
            raise _misplaced(f"not an IngestRequest: {err.args[1]}") from None

    @boundary.unary
    def ListIngestionRuns(  # noqa: N802 - the RPC's name
        self, request: pb.ListIngestionRunsRequest, context: grpc.ServicerContext
    ) -> pb.ListIngestionRunsResponse:
        tenant = tenant_of(context)
        bound_to = page_token.fingerprint(tenant, request)
        offset = page_token.decode(request.page_token, bound_to)
        size = min(request.page_size or DEFAULT_RUNS_PAGE, MAX_RUNS_PAGE)
        where = RunFilter(
            source=request.source,
            started_from=convert.datetime_of(request.start_time, request.HasField("start_time")),
            started_before=convert.datetime_of(request.end_time, request.HasField("end_time")),
            state=convert.RUN_STATES_BY_PROTO.get(request.state),
        )
        runs = self._runs.list_runs(tenant, where, offset, size + 1)
        more = len(runs) > size
        return pb.ListIngestionRunsResponse(
            runs=[convert.run(r) for r in runs[:size]],
            next_page_token=page_token.encode(offset + size, bound_to) if more else "",
        )

    @boundary.unary
    def GetIngestionRun(  # noqa: N802 - the RPC's name
        self, request: pb.GetIngestionRunRequest, context: grpc.ServicerContext
    ) -> rpb.IngestionRun:
        return convert.run(self._runs.get_run(tenant_of(context), request.run_id))

    @boundary.unary
    def GetIngestionStats(  # noqa: N802 - the RPC's name
        self, request: pb.GetIngestionStatsRequest, context: grpc.ServicerContext
    ) -> pb.GetIngestionStatsResponse:
        stats = self._runs.stats(tenant_of(context), request.window_days)
        return pb.GetIngestionStatsResponse(
            sources=[convert.source_stats(s) for s in stats.sources],
            platforms=[convert.freshness(p) for p in stats.platforms],
        )

    @boundary.unary
    def GetCheckpoint(  # noqa: N802 - the RPC's name
        self, request: pb.GetCheckpointRequest, context: grpc.ServicerContext
    ) -> rpb.Checkpoint:
        checkpoint = self._runs.get_checkpoint(tenant_of(context), request.source, request.name)
        return convert.checkpoint(checkpoint, self._runs.restatement_days(request.source))

    @boundary.unary
    def UpdateCheckpoint(  # noqa: N802 - the RPC's name
        self, request: pb.UpdateCheckpointRequest, context: grpc.ServicerContext
    ) -> rpb.Checkpoint:
        c = request.checkpoint
        wanted = Checkpoint(
            c.source, c.name, c.cursor, convert.date_of(c.newest_data_date, "checkpoint.newest_data_date")
        )
        expected = request.expected_cursor if request.HasField("expected_cursor") else None
        stored = self._runs.update_checkpoint(tenant_of(context), wanted, expected)
        return convert.checkpoint(stored, self._runs.restatement_days(c.source))

    @boundary.unary
    def UpsertFxRates(  # noqa: N802 - the RPC's name
        self, request: pb.UpsertFxRatesRequest, context: grpc.ServicerContext
    ) -> pb.UpsertFxRatesResponse:
        raw = [(r.date, r.base_currency, r.quote_currency, r.rate) for r in request.rates]
        return pb.UpsertFxRatesResponse(upserted=self._currency.upsert_rates(tenant_of(context), raw))


def _misplaced(message: str) -> InvalidArgument:
    return InvalidArgument(
        message, "BAD_STREAM", violations=[FieldViolation("request", message, "BAD_STREAM")]
    )


def _spec(open_: pb.StreamOpen) -> StreamSpec:
    for field, value, known in (
        ("open.reject_policy", open_.reject_policy, _POLICIES),
        ("open.clicks_over_impressions", open_.clicks_over_impressions, _CLICKS),
        ("open.drift_policy", open_.drift_policy, _DRIFT),
    ):
        if value not in known:
            raise InvalidArgument(
                f"{field} is not a known value",
                "INVALID_ENUM",
                violations=[FieldViolation(field, "unknown value")],
            )
    return StreamSpec(
        source=open_.source.strip().lower() or "generic",
        policy=_POLICIES[open_.reject_policy],
        stream_id=open_.stream_id,
        options=dict(open_.source_options),
        clicks=_CLICKS[open_.clicks_over_impressions],
        drift=_DRIFT[open_.drift_policy],
    )


def _payload(header: Any, raw: bytes) -> BatchPayload:
    if header.fmt is None:
        missing = "batch.text.format" if header.length else "batch.payload"
        problem = "must be CSV or NDJSON" if header.length else "is missing"
        raise InvalidArgument(
            f"batch {header.batch_id!r}: {missing} {problem}",
            "BAD_PAYLOAD",
            metadata={"batch_id": header.batch_id},
            violations=[FieldViolation(missing, problem, "BAD_PAYLOAD")],
        )
    return BatchPayload(
        batch_id=header.batch_id,
        fmt=header.fmt,
        data=raw,
        offset=header.offset,
        length=header.length,
        compression=header.compression,
    )


def _ack(outcome: BatchOutcome) -> pb.BatchAck:
    return pb.BatchAck(
        batch_id=outcome.batch_id,
        accepted=outcome.accepted,
        rejected=outcome.rejected,
        duplicates=outcome.duplicates,
        errors=convert.row_errors(outcome.errors),
        errors_truncated=outcome.errors_truncated,
        replayed=outcome.replayed,
        ignored_columns=outcome.ignored_columns,
        missing_columns=outcome.missing_columns,
        warnings=convert.row_errors(outcome.warnings),
        warnings_truncated=outcome.warnings_truncated,
    )
