"""adpulse.v1.IngestService over the ingest use case."""

from __future__ import annotations

from collections.abc import Iterator

import grpc

from adpulse.server.domain.errors import FieldViolation, InvalidArgument
from adpulse.server.domain.ingest import BatchOutcome, PayloadFormat, RejectPolicy
from adpulse.server.transport import boundary
from adpulse.server.transport.tenancy import tenant_of
from adpulse.server.usecases.ingest import IngestUseCase
from adpulse.v1 import ingest_service_pb2 as pb
from adpulse.v1 import ingest_service_pb2_grpc as pb_grpc

_POLICIES = {
    pb.REJECT_POLICY_UNSPECIFIED: RejectPolicy.KEEP_GOOD_ROWS,
    pb.REJECT_POLICY_KEEP_GOOD_ROWS: RejectPolicy.KEEP_GOOD_ROWS,
    pb.REJECT_POLICY_ALL_OR_NOTHING: RejectPolicy.ALL_OR_NOTHING,
}
_TEXT_FORMATS: dict[int, PayloadFormat] = {pb.TEXT_FORMAT_CSV: "csv", pb.TEXT_FORMAT_NDJSON: "ndjson"}


class IngestServicer(pb_grpc.IngestServiceServicer):
    def __init__(self, ingest: IngestUseCase) -> None:
        self._ingest = ingest

    @boundary.streaming
    def Ingest(  # noqa: N802 - the RPC's name
        self, request_iterator: Iterator[pb.IngestRequest], context: grpc.ServicerContext
    ) -> Iterator[pb.IngestResponse]:
        tenant = tenant_of(context)
        first = next(request_iterator, None)
        if first is None:
            return
        if first.WhichOneof("request") != "open":
            raise _misplaced("the first message of an ingest stream must be `open`")
        policy = _POLICIES.get(first.open.reject_policy)
        if policy is None:
            raise _misplaced("open.reject_policy is not a known policy")
        stream = self._ingest.open_stream(tenant, first.open.source, policy, first.open.stream_id)
        yield pb.IngestResponse(opened=pb.StreamOpened(stream_id=stream.stream_id, source=stream.source))
        for request in request_iterator:
            if request.WhichOneof("request") != "batch":
                raise _misplaced("`open` may only be the first message of a stream")
            payload, fmt = _payload(request.batch)
            outcome = self._ingest.ingest_batch(stream, request.batch.batch_id, payload, fmt)
            yield pb.IngestResponse(ack=_ack(outcome))


def _misplaced(message: str) -> InvalidArgument:
    return InvalidArgument(
        message, "BAD_STREAM", violations=[FieldViolation("request", message, "BAD_STREAM")]
    )


def _payload(batch: pb.IngestBatch) -> tuple[bytes, PayloadFormat]:
    kind = batch.WhichOneof("payload")
    if kind == "rows":
        return batch.rows.SerializeToString(), "proto_rows"
    if kind == "arrow_ipc":
        return batch.arrow_ipc, "arrow_ipc"
    if kind == "text" and batch.text.format in _TEXT_FORMATS:
        return batch.text.data, _TEXT_FORMATS[batch.text.format]
    field, problem = (
        ("batch.text.format", "must be CSV or NDJSON") if kind else ("batch.payload", "is missing")
    )
    raise InvalidArgument(
        f"batch {batch.batch_id!r}: {field} {problem}",
        "BAD_PAYLOAD",
        metadata={"batch_id": batch.batch_id},
        violations=[FieldViolation(field, problem, "BAD_PAYLOAD")],
    )


def _ack(outcome: BatchOutcome) -> pb.BatchAck:
    return pb.BatchAck(
        batch_id=outcome.batch_id,
        accepted=outcome.accepted,
        rejected=outcome.rejected,
        duplicates=outcome.duplicates,
        errors=[pb.RowError(row=e.row, line=e.line, field=e.field, reason=e.reason) for e in outcome.errors],
        errors_truncated=outcome.errors_truncated,
        replayed=outcome.replayed,
        ignored_columns=outcome.ignored_columns,
    )
