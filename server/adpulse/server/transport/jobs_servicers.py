"""The RPCs that start long-running operations, added to IngestService and AnalyticsService.

They validate the request into an operation's parameters, start the operation and answer with
it at once; the work happens in a worker (see `usecases/jobs`).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import grpc

from adpulse.server.domain.errors import FieldViolation, InvalidArgument
from adpulse.server.domain.metrics_query import Dimension, DimensionFilter
from adpulse.server.domain.operations import OperationKind, operation_id
from adpulse.server.ports import FileArea
from adpulse.server.transport import boundary
from adpulse.server.transport.analytics_servicer import _DIMENSIONS, _GRANULARITIES, AnalyticsServicer, _enum
from adpulse.server.transport.ingest_servicer import _CLICKS, _DRIFT, _POLICIES, IngestServicer
from adpulse.server.transport.operations_servicer import operation
from adpulse.server.transport.tenancy import tenant_of
from adpulse.server.usecases.jobs.derive import backfill_params
from adpulse.server.usecases.jobs.export_metrics import ExportDownloads, export_params
from adpulse.server.usecases.jobs.import_file import ImportFileJob, import_params
from adpulse.server.usecases.operations import OperationsUseCase
from adpulse.v1 import analytics_service_pb2 as apb
from adpulse.v1 import ingest_service_pb2 as ipb
from adpulse.v1 import operation_pb2 as opb

_EXPORT_FORMATS = {
    opb.EXPORT_FORMAT_UNSPECIFIED: "parquet",
    opb.EXPORT_FORMAT_PARQUET: "parquet",
    opb.EXPORT_FORMAT_CSV: "csv",
}


class JobsIngestServicer(IngestServicer):
    """IngestService with ImportFile and UploadFile."""

    def __init__(
        self,
        *args: Any,
        operations: OperationsUseCase,
        importer: ImportFileJob,
        files: FileArea,
        max_upload_bytes: int,
    ) -> None:
        super().__init__(*args)
        self._operations = operations
        self._importer = importer
        self._files = files
        self._max_upload_bytes = max_upload_bytes

    @boundary.unary
    def ImportFile(  # noqa: N802 - the RPC's name
        self, request: ipb.ImportFileRequest, context: grpc.ServicerContext
    ) -> Any:
        tenant = tenant_of(context)
        params = import_params(
            path=request.path,
            source=request.source.strip().lower() or "generic",
            source_options=dict(request.source_options),
            reject=_enum(_POLICIES, request.reject_policy, "reject_policy"),
            clicks=_enum(_CLICKS, request.clicks_over_impressions, "clicks_over_impressions"),
            drift=_enum(_DRIFT, request.drift_policy, "drift_policy"),
            chunk_bytes=request.chunk_bytes,
        )
        self._importer.check(tenant, params)
        return operation(
            self._operations.start(tenant, OperationKind.IMPORT_FILE, params, request.request_id)
        )

    @boundary.unary
    def UploadFile(  # noqa: N802 - the RPC's name
        self, request_iterator: Iterator[ipb.UploadFileRequest], context: grpc.ServicerContext
    ) -> ipb.UploadFileResponse:
        first = next(request_iterator, None)
        if first is None or first.WhichOneof("request") != "header":
            raise _misplaced("the first message of an upload must be `header`")

        def data() -> Iterator[bytes]:
            for message in request_iterator:
                if message.WhichOneof("request") != "data":
                    raise _misplaced("`header` may only be the first message of an upload")
                yield message.data

        path, size, sha256 = self._files.save_upload(
            tenant_of(context), first.header.file_name, data(), self._max_upload_bytes
        )
        return ipb.UploadFileResponse(path=path, size_bytes=size, sha256=sha256)


class JobsAnalyticsServicer(AnalyticsServicer):
    """AnalyticsService with ExportMetrics, DownloadExport and Backfill."""

    def __init__(
        self, *args: Any, operations: OperationsUseCase, downloads: ExportDownloads, steps: Sequence[str]
    ) -> None:
        super().__init__(*args)
        self._operations = operations
        self._downloads = downloads
        self._steps = list(steps)

    @boundary.unary
    def ExportMetrics(  # noqa: N802 - the RPC's name
        self, request: apb.ExportMetricsRequest, context: grpc.ServicerContext
    ) -> Any:
        params = export_params(
            start_date=request.start_date,
            end_date=request.end_date,
            dimensions=[_enum(_DIMENSIONS, d, f"dimensions[{i}]") for i, d in enumerate(request.dimensions)],
            granularity=_enum(_GRANULARITIES, request.granularity, "granularity"),
            filters=[
                _filter(_enum(_DIMENSIONS, f.dimension, f"filters[{i}].dimension"), f)
                for i, f in enumerate(request.filters)
            ],
            reporting_currency=request.reporting_currency,
            fmt=_enum(_EXPORT_FORMATS, request.format, "format"),
        )
        tenant = tenant_of(context)
        return operation(
            self._operations.start(tenant, OperationKind.EXPORT_METRICS, params, request.request_id)
        )

    @boundary.streaming
    def DownloadExport(  # noqa: N802 - the RPC's name
        self, request: apb.DownloadExportRequest, context: grpc.ServicerContext
    ) -> Iterator[apb.DownloadExportResponse]:
        found = self._operations.get(tenant_of(context), operation_id(request.name))
        for piece in self._downloads.read(found, request.offset):
            yield apb.DownloadExportResponse(data=piece)

    @boundary.unary
    def Backfill(  # noqa: N802 - the RPC's name
        self, request: apb.BackfillRequest, context: grpc.ServicerContext
    ) -> Any:
        params = backfill_params(request.start_date, request.end_date, list(request.steps), self._steps)
        tenant = tenant_of(context)
        return operation(self._operations.start(tenant, OperationKind.BACKFILL, params, request.request_id))


def _filter(dimension: Dimension, f: apb.DimensionFilter) -> DimensionFilter:
    return DimensionFilter(dimension, tuple(f.values), f.exclude)


def _misplaced(message: str) -> InvalidArgument:
    return InvalidArgument(
        message, "BAD_STREAM", violations=[FieldViolation("request", message, "BAD_STREAM")]
    )
