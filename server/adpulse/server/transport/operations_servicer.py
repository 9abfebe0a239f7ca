"""google.longrunning.Operations over the operations use case, and Operation <-> protobuf."""

from __future__ import annotations

import datetime as dt
from typing import Any

import grpc
from google.longrunning import operations_pb2, operations_pb2_grpc
from google.protobuf import empty_pb2

from adpulse.server.domain.errors import FieldViolation, InvalidArgument
from adpulse.server.domain.operations import (
    Operation,
    OperationKind,
    OperationState,
    operation_id,
    parse_filter,
)
from adpulse.server.transport import boundary, convert, page_token
from adpulse.server.transport.status import status_of
from adpulse.server.transport.tenancy import principal_of, tenant_of
from adpulse.server.usecases.operations import MAX_WAIT, OperationsUseCase
from adpulse.v1 import ingest_service_pb2 as ipb
from adpulse.v1 import operation_pb2 as opb

KINDS = {
    OperationKind.IMPORT_FILE: opb.OPERATION_KIND_IMPORT_FILE,
    OperationKind.EXPORT_METRICS: opb.OPERATION_KIND_EXPORT_METRICS,
    OperationKind.BACKFILL: opb.OPERATION_KIND_BACKFILL,
    OperationKind.DAILY_SCAN: opb.OPERATION_KIND_DAILY_SCAN,
    OperationKind.EXPORT_TENANT_DATA: opb.OPERATION_KIND_EXPORT_TENANT_DATA,
    OperationKind.DELETE_TENANT_DATA: opb.OPERATION_KIND_DELETE_TENANT_DATA,
}
STATES = {
    OperationState.QUEUED: opb.OPERATION_STATE_QUEUED,
    OperationState.RUNNING: opb.OPERATION_STATE_RUNNING,
    OperationState.SUCCEEDED: opb.OPERATION_STATE_SUCCEEDED,
    OperationState.FAILED: opb.OPERATION_STATE_FAILED,
    OperationState.CANCELLED: opb.OPERATION_STATE_CANCELLED,
}
EXPORT_FORMATS = {"parquet": opb.EXPORT_FORMAT_PARQUET, "csv": opb.EXPORT_FORMAT_CSV}


class OperationsServicer(operations_pb2_grpc.OperationsServicer):  # type: ignore[misc]
    def __init__(self, operations: OperationsUseCase, max_wait: dt.timedelta = MAX_WAIT) -> None:
        self._operations = operations
        # A wait holds a handler thread: it answers with the state so far after this long.
        self._max_wait = min(max_wait, MAX_WAIT)

    @boundary.unary
    def GetOperation(  # noqa: N802 - the RPC's name
        self, request: Any, context: grpc.ServicerContext
    ) -> Any:
        return operation(self._operations.get(tenant_of(context), operation_id(request.name)))

    @boundary.unary
    def ListOperations(  # noqa: N802 - the RPC's name
        self, request: Any, context: grpc.ServicerContext
    ) -> Any:
        tenant = tenant_of(context)
        if request.name not in {"", "operations"}:
            raise _bad_collection(request.name)
        bound_to = page_token.fingerprint(tenant, request)
        offset = page_token.decode(request.page_token, bound_to)
        found, more = self._operations.list(tenant, parse_filter(request.filter), offset, request.page_size)
        return operations_pb2.ListOperationsResponse(
            operations=[operation(o) for o in found],
            next_page_token=page_token.encode(offset + len(found), bound_to) if more else "",
        )

    @boundary.unary
    def CancelOperation(  # noqa: N802 - the RPC's name
        self, request: Any, context: grpc.ServicerContext
    ) -> empty_pb2.Empty:
        self._operations.cancel(tenant_of(context), operation_id(request.name), principal_of(context).scopes)
        return empty_pb2.Empty()

    @boundary.unary
    def DeleteOperation(  # noqa: N802 - the RPC's name
        self, request: Any, context: grpc.ServicerContext
    ) -> empty_pb2.Empty:
        self._operations.delete(tenant_of(context), operation_id(request.name), principal_of(context).scopes)
        return empty_pb2.Empty()

    @boundary.unary
    def WaitOperation(  # noqa: N802 - the RPC's name
        self, request: Any, context: grpc.ServicerContext
    ) -> Any:
        timeout = request.timeout.ToTimedelta() if request.HasField("timeout") else self._max_wait
        timeout = min(timeout, self._max_wait)
        remaining = context.time_remaining()  # huge when the caller set no deadline
        if remaining is not None and remaining < self._max_wait.total_seconds():
            # Answer a little before the caller's own deadline, so it gets the state so far.
            budget = dt.timedelta(seconds=max(remaining - 0.5, 0))
            timeout = min(timeout, budget)
        found = self._operations.wait(
            tenant_of(context), operation_id(request.name), timeout, context.is_active
        )
        return operation(found)


def _bad_collection(name: str) -> InvalidArgument:
    return InvalidArgument(
        f"name {name!r} is not a collection of operations; use `operations` or leave it empty",
        "INVALID_COLLECTION",
        violations=[FieldViolation("name", "`operations` or empty", "INVALID_COLLECTION")],
    )


def operation(op: Operation) -> Any:
    """The AIP-151 view: metadata always; when done, the response or the error status."""
    metadata = opb.OperationMetadata(
        kind=KINDS[op.kind],
        state=STATES[op.state],
        progress_percent=op.progress.percent,
        rows_done=op.progress.rows_done,
        rows_total=op.progress.rows_total,
        current_step=op.progress.step,
        create_time=convert.timestamp(op.created_at),
        update_time=convert.timestamp(op.updated_at),
        end_time=convert.timestamp(op.finished_at),
        cancel_requested=op.cancel_requested,
        recoveries=op.recoveries,
    )
    out = operations_pb2.Operation(name=op.name, done=op.done)
    out.metadata.Pack(metadata)
    if op.state is OperationState.SUCCEEDED and op.result is not None:
        out.response.Pack(_response(op))
    elif op.done and op.error is not None:
        out.error.CopyFrom(status_of(op.error.as_exception()))
    return out


def _response(op: Operation) -> Any:
    r = op.result
    assert r is not None
    if op.kind is OperationKind.IMPORT_FILE:
        return opb.ImportFileResponse(
            path=r["path"],
            rows_accepted=r["rows_accepted"],
            rows_rejected=r["rows_rejected"],
            rows_duplicate=r["rows_duplicate"],
            chunks=r["chunks"],
            errors=[
                ipb.RowError(line=line, field=field, reason=reason) for line, field, reason in r["errors"]
            ],
            errors_truncated=r["errors_truncated"],
            ignored_columns=r["ignored_columns"],
            missing_columns=r["missing_columns"],
            run_id=r["run_id"],
        )
    if op.kind is OperationKind.EXPORT_METRICS:
        return opb.ExportMetricsResponse(
            export=op.name,
            format=EXPORT_FORMATS[r["format"]],
            rows=r["rows"],
            size_bytes=r["size_bytes"],
            sha256=r["sha256"],
            file_name=r["file_name"],
        )
    if op.kind is OperationKind.EXPORT_TENANT_DATA:
        return opb.ExportTenantDataResponse(
            export=op.name,
            entries=[opb.ArchiveEntry(**entry) for entry in r["entries"]],
            size_bytes=r["size_bytes"],
            sha256=r["sha256"],
            file_name=r["file_name"],
        )
    if op.kind is OperationKind.DELETE_TENANT_DATA:
        return opb.DeleteTenantDataResponse(
            tenant=r["tenant"],
            counts=[opb.DeletionCount(store=s, deleted=d, remaining=n) for s, d, n in r["counts"]],
        )
    steps = [opb.StepResult(**step) for step in r["steps"]]
    if op.kind is OperationKind.BACKFILL:
        return opb.BackfillResponse(start_date=r["start_date"], end_date=r["end_date"], steps=steps)
    return opb.DailyScanResponse(
        scan_date=r["scan_date"],
        start_date=r["start_date"],
        end_date=r["end_date"],
        steps=steps,
        stale_platforms=r["stale_platforms"],
    )
