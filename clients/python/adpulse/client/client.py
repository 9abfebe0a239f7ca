"""A small typed client of the adpulse gRPC API."""

from __future__ import annotations

import collections
import gzip
import itertools
import os
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Literal, TypeVar

import grpc
from google.longrunning import operations_pb2, operations_pb2_grpc
from google.protobuf import duration_pb2

from adpulse.client.alerts import AlertsMixin
from adpulse.client.errors import AdpulseError
from adpulse.client.files import DEFAULT_BATCH_BYTES, FileBatch, batches
from adpulse.client.metrics import MetricsRecord, MetricsResult
from adpulse.client.operations import Operation
from adpulse.v1 import analytics_service_pb2 as apb
from adpulse.v1 import analytics_service_pb2_grpc as apb_grpc
from adpulse.v1 import ingest_service_pb2 as ipb
from adpulse.v1 import ingest_service_pb2_grpc as ipb_grpc
from adpulse.v1 import ingestion_run_pb2 as rpb
from adpulse.v1 import tenant_service_pb2 as tpb
from adpulse.v1 import tenant_service_pb2_grpc as tpb_grpc

DEFAULT_TARGET = "127.0.0.1:50051"
TENANT_HEADER = "x-adpulse-tenant"
DIMENSIONS = {
    "date": apb.DIMENSION_DATE,
    "platform": apb.DIMENSION_PLATFORM,
    "account": apb.DIMENSION_ACCOUNT,
    "campaign": apb.DIMENSION_CAMPAIGN,
    "ad_group": apb.DIMENSION_AD_GROUP,
    "ad": apb.DIMENSION_AD,
    "currency": apb.DIMENSION_CURRENCY,
}
GRANULARITIES = {
    "day": apb.TIME_GRANULARITY_DAY,
    "week": apb.TIME_GRANULARITY_WEEK,
    "month": apb.TIME_GRANULARITY_MONTH,
}
METRICS = {
    name: getattr(apb, f"METRIC_{name.upper()}")
    for name in (
        "impressions",
        "clicks",
        "cost",
        "conversions",
        "revenue",
        "ctr",
        "cpc",
        "cpm",
        "cvr",
        "cpa",
        "roas",
        "roi",
    )
}
METHODS = {
    "auto": apb.ANOMALY_METHOD_AUTO,
    "zscore": apb.ANOMALY_METHOD_ZSCORE,
    "mad": apb.ANOMALY_METHOD_MAD,
    "seasonal": apb.ANOMALY_METHOD_SEASONAL,
    "week_over_week": apb.ANOMALY_METHOD_WEEK_OVER_WEEK,
}
SENSITIVITIES = {"low": apb.SENSITIVITY_LOW, "medium": apb.SENSITIVITY_MEDIUM, "high": apb.SENSITIVITY_HIGH}
INSIGHT_STATUSES = {
    "new": apb.INSIGHT_STATUS_NEW,
    "acknowledged": apb.INSIGHT_STATUS_ACKNOWLEDGED,
    "dismissed": apb.INSIGHT_STATUS_DISMISSED,
}
_TEXT_FORMATS = {"csv": ipb.TEXT_FORMAT_CSV, "ndjson": ipb.TEXT_FORMAT_NDJSON}
Granularity = Literal["day", "week", "month"]
Response = TypeVar("Response")


@dataclass(frozen=True)
class FileRowError:
    """A rejected (or, among warnings, a kept but suspicious) row of an ingested file."""

    file: str
    line: int
    field: str
    reason: str


@dataclass(frozen=True)
class StreamOptions:
    """How an ingest stream reads and judges its rows."""

    source: str = "generic"
    all_or_nothing: bool = False
    stream_id: str = ""
    source_options: Mapping[str, str] = field(default_factory=dict)
    reject_clicks_over_impressions: bool = False
    fail_on_drift: bool = False

    def open_message(self) -> ipb.StreamOpen:
        return ipb.StreamOpen(
            source=self.source,
            reject_policy=ipb.REJECT_POLICY_ALL_OR_NOTHING
            if self.all_or_nothing
            else ipb.REJECT_POLICY_KEEP_GOOD_ROWS,
            stream_id=self.stream_id,
            source_options=dict(self.source_options),
            clicks_over_impressions=(
                ipb.CLICKS_POLICY_REJECT if self.reject_clicks_over_impressions else ipb.CLICKS_POLICY_WARN
            ),
            drift_policy=ipb.DRIFT_POLICY_FAIL if self.fail_on_drift else ipb.DRIFT_POLICY_REPORT,
        )

    def reading(self) -> bytes:
        """What decides which rows a payload yields, beyond its bytes: part of each batch's id."""
        options = "\0".join(f"{k}={v}" for k, v in sorted(self.source_options.items()))
        return f"{options}\0{self.reject_clicks_over_impressions}".encode()


@dataclass
class IngestReport:
    """What ingesting some files did, summed over their batches."""

    accepted: int = 0
    rejected: int = 0
    duplicates: int = 0
    errors: list[FileRowError] = field(default_factory=list)
    errors_truncated: bool = False
    warnings: list[FileRowError] = field(default_factory=list)
    ignored_columns: set[str] = field(default_factory=set)
    missing_columns: set[str] = field(default_factory=set)
    run_id: str = ""
    skipped_batches: int = 0
    bytes_sent: int = 0


class AdpulseClient(AlertsMixin):
    """Talks to one adpulse server. Use as a context manager, or call `close()`."""

    def __init__(
        self,
        target: str | None = None,
        *,
        tenant: str | None = None,
        timeout: float | None = 60.0,
        max_message_bytes: int = 64 * 1024 * 1024,
    ) -> None:
        self.target = target or os.environ.get("ADPULSE_TARGET") or DEFAULT_TARGET
        self._metadata = ((TENANT_HEADER, tenant),) if tenant else ()
        self._timeout = timeout
        self._channel = grpc.insecure_channel(
            self.target,
            options=[
                ("grpc.max_send_message_length", max_message_bytes),
                ("grpc.max_receive_message_length", max_message_bytes),
            ],
        )
        self._ingest = ipb_grpc.IngestServiceStub(self._channel)
        self._analytics = apb_grpc.AnalyticsServiceStub(self._channel)
        self._tenants = tpb_grpc.TenantServiceStub(self._channel)
        self._operations = operations_pb2_grpc.OperationsStub(self._channel)

    def close(self) -> None:
        self._channel.close()

    def __enter__(self) -> AdpulseClient:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # -- ingest

    def ingest(
        self,
        batches: Iterable[ipb.IngestBatch],
        options: StreamOptions | None = None,
        *,
        on_open: Callable[[ipb.StreamOpened], None] | None = None,
    ) -> Iterator[ipb.BatchAck]:
        """Streams batches; yields one ack per batch, in order, as the server commits them."""
        opening = (options or StreamOptions()).open_message()

        def requests() -> Iterator[ipb.IngestRequest]:
            yield ipb.IngestRequest(open=opening)
            for batch in batches:
                yield ipb.IngestRequest(batch=batch)

        call = self._ingest.Ingest(requests(), metadata=self._metadata)
        try:
            for response in call:
                if response.WhichOneof("response") == "ack":
                    yield response.ack
                elif on_open is not None:
                    on_open(response.opened)
        except grpc.RpcError as err:
            raise AdpulseError.from_rpc_error(err) from None
        finally:
            # A consumer that stops early (Ctrl-C, an error, a break) ends the stream at once.
            call.cancel()

    def ingest_files(
        self,
        paths: Sequence[str | os.PathLike[str]],
        options: StreamOptions | None = None,
        *,
        resume: bool = False,
        compress: bool = False,
        batch_bytes: int = DEFAULT_BATCH_BYTES,
        on_ack: Callable[[IngestReport], None] | None = None,
    ) -> IngestReport:
        """Streams CSV/NDJSON files (`.gz` too) in batches; errors name the file line.

        With `resume` (and a `stream_id` in the options) the batches up to the stream's last
        committed one are not sent again. `compress` gzips each batch on the wire.
        """
        options = options or StreamOptions()
        if resume and not options.stream_id:
            raise ValueError("resume needs a stream_id")
        files = [Path(p) for p in paths]
        report = IngestReport()
        sent: collections.deque[tuple[Path, FileBatch]] = collections.deque()
        opened = _Opened()

        def requests() -> Iterator[ipb.IngestBatch]:
            skip = _batches_up_to(files, options, batch_bytes, opened.last_batch_id()) if resume else 0
            report.skipped_batches = skip
            chunks = (
                (path, chunk)
                for path in files
                for chunk in batches(path, options.source, batch_bytes, options.reading())
            )
            for path, chunk in itertools.islice(chunks, skip, None):
                sent.append((path, chunk))
                data = gzip.compress(chunk.data, compresslevel=1) if compress else chunk.data
                report.bytes_sent += len(data)
                text = ipb.TextPayload(
                    format=_TEXT_FORMATS[chunk.fmt],
                    data=data,
                    compression=ipb.COMPRESSION_GZIP if compress else ipb.COMPRESSION_NONE,
                )
                yield ipb.IngestBatch(batch_id=chunk.batch_id, text=text)

        def lines(path: Path, chunk: FileBatch, errors: Iterable[ipb.RowError]) -> list[FileRowError]:
            return [FileRowError(str(path), chunk.file_line(e.line), e.field, e.reason) for e in errors]

        try:
            for ack in self.ingest(requests(), options, on_open=opened.set):
                path, chunk = sent.popleft()
                report.accepted += ack.accepted
                report.rejected += ack.rejected
                report.duplicates += ack.duplicates
                report.errors_truncated |= ack.errors_truncated
                report.ignored_columns.update(ack.ignored_columns)
                report.missing_columns.update(ack.missing_columns)
                report.errors += lines(path, chunk, ack.errors)
                report.warnings += lines(path, chunk, ack.warnings)
                if on_ack:
                    on_ack(report)
        finally:
            opened.close()
        report.run_id = opened.run_id
        return report

    def runs(
        self, *, source: str = "", limit: int = 50, page_token: str = ""
    ) -> ipb.ListIngestionRunsResponse:
        request = ipb.ListIngestionRunsRequest(source=source, page_size=limit, page_token=page_token)
        return self._call(self._ingest.ListIngestionRuns, request)

    def run(self, run_id: str) -> rpb.IngestionRun:
        return self._call(self._ingest.GetIngestionRun, ipb.GetIngestionRunRequest(run_id=run_id))

    def ingestion_stats(self, window_days: int = 0) -> ipb.GetIngestionStatsResponse:
        return self._call(
            self._ingest.GetIngestionStats, ipb.GetIngestionStatsRequest(window_days=window_days)
        )

    def checkpoint(self, source: str, name: str = "") -> rpb.Checkpoint:
        return self._call(self._ingest.GetCheckpoint, ipb.GetCheckpointRequest(source=source, name=name))

    def update_checkpoint(
        self, checkpoint: rpb.Checkpoint, *, expected_cursor: str | None = None
    ) -> rpb.Checkpoint:
        request = ipb.UpdateCheckpointRequest(checkpoint=checkpoint)
        if expected_cursor is not None:
            request.expected_cursor = expected_cursor
        return self._call(self._ingest.UpdateCheckpoint, request)

    def upsert_fx_rates(self, rates: Iterable[tuple[str, str, str, str]]) -> int:
        """Rates as (date, base, quote, rate): one base is `rate` quote on that date."""
        request = ipb.UpsertFxRatesRequest(
            rates=[rpb.FxRate(date=d, base_currency=b, quote_currency=q, rate=r) for d, b, q, r in rates]
        )
        return self._call(self._ingest.UpsertFxRates, request).upserted

    def tenant_settings(self) -> tpb.TenantSettings:
        return self._call(self._tenants.GetTenantSettings, tpb.GetTenantSettingsRequest())

    def update_tenant_settings(self, *, reporting_currency: str) -> tpb.TenantSettings:
        settings = tpb.TenantSettings(reporting_currency=reporting_currency)
        return self._call(
            self._tenants.UpdateTenantSettings, tpb.UpdateTenantSettingsRequest(settings=settings)
        )

    def _call(self, method: Callable[..., Response], request: object) -> Response:
        try:
            return method(request, metadata=self._metadata, timeout=self._timeout)
        except grpc.RpcError as err:
            raise AdpulseError.from_rpc_error(err) from None

    # -- analytics

    def query_metrics_page(self, request: apb.QueryMetricsRequest) -> apb.QueryMetricsResponse:
        return self._call(self._analytics.QueryMetrics, request)

    def query_metrics(
        self,
        *,
        start: str = "",
        end: str = "",
        by: Sequence[str] = (),
        granularity: Granularity = "day",
        filters: Mapping[str, Sequence[str]] | None = None,
        exclude: Mapping[str, Sequence[str]] | None = None,
        order_by: str = "",
        limit: int | None = None,
        currency: str = "",
    ) -> MetricsResult:
        """Sums and KPIs grouped by `by` (dimension names), following pages up to `limit` rows."""
        request = apb.QueryMetricsRequest(
            start_date=start,
            end_date=end,
            dimensions=[DIMENSIONS[d] for d in by],
            granularity=GRANULARITIES[granularity],
            filters=[
                apb.DimensionFilter(dimension=DIMENSIONS[d], values=list(values), exclude=excluded)
                for excluded, mapping in ((False, filters or {}), (True, exclude or {}))
                for d, values in mapping.items()
            ],
            order_by=order_by,
            page_size=1000 if limit is None else max(1, min(limit, 1000)),
            reporting_currency=currency,
        )
        rows: list[MetricsRecord] = []
        while True:
            page = self.query_metrics_page(request)
            rows.extend(MetricsRecord.from_proto(r) for r in page.rows)
            if not page.next_page_token or (limit is not None and len(rows) >= limit):
                break
            request.page_token = page.next_page_token
        return MetricsResult(
            rows=rows[:limit] if limit is not None else rows,
            totals=MetricsRecord.from_proto(page.totals),
            total_size=page.total_size,
        )

    # -- long-running operations

    def upload_file(
        self, path: str | os.PathLike[str], *, piece_bytes: int = 1 << 20
    ) -> ipb.UploadFileResponse:
        """Copies a local file into the server's import directory; its server-side path."""
        local = Path(path)

        def requests() -> Iterator[ipb.UploadFileRequest]:
            yield ipb.UploadFileRequest(header=ipb.UploadFileHeader(file_name=local.name))
            with local.open("rb") as f:
                while piece := f.read(piece_bytes):
                    yield ipb.UploadFileRequest(data=piece)

        try:
            response: ipb.UploadFileResponse = self._ingest.UploadFile(requests(), metadata=self._metadata)
        except grpc.RpcError as err:
            raise AdpulseError.from_rpc_error(err) from None
        return response

    def import_file(self, request: ipb.ImportFileRequest) -> Operation:
        return Operation.of(self._call(self._ingest.ImportFile, request))

    def export_metrics(self, request: apb.ExportMetricsRequest) -> Operation:
        return Operation.of(self._call(self._analytics.ExportMetrics, request))

    def backfill(self, start: str, end: str, steps: Sequence[str] = (), request_id: str = "") -> Operation:
        request = apb.BackfillRequest(
            start_date=start, end_date=end, steps=list(steps), request_id=request_id
        )
        return Operation.of(self._call(self._analytics.Backfill, request))

    def download_export(self, name: str, offset: int = 0) -> Iterator[bytes]:
        """The bytes of a finished export, piece by piece."""
        call = self._analytics.DownloadExport(
            apb.DownloadExportRequest(name=name, offset=offset), metadata=self._metadata
        )
        try:
            for piece in call:
                yield piece.data
        except grpc.RpcError as err:
            raise AdpulseError.from_rpc_error(err) from None
        finally:
            call.cancel()

    def operation(self, name: str) -> Operation:
        return Operation.of(
            self._call(self._operations.GetOperation, operations_pb2.GetOperationRequest(name=name))
        )

    def operations(
        self, *, filter: str = "", page_size: int = 0, page_token: str = ""
    ) -> tuple[list[Operation], str]:
        """One page of operations, newest first, and the next page's token ("" on the last)."""
        request = operations_pb2.ListOperationsRequest(
            name="operations", filter=filter, page_size=page_size, page_token=page_token
        )
        page = self._call(self._operations.ListOperations, request)
        return [Operation.of(o) for o in page.operations], page.next_page_token

    def cancel_operation(self, name: str) -> None:
        self._call(self._operations.CancelOperation, operations_pb2.CancelOperationRequest(name=name))

    def delete_operation(self, name: str) -> None:
        self._call(self._operations.DeleteOperation, operations_pb2.DeleteOperationRequest(name=name))

    def wait_operation(self, name: str, timeout: float = 60.0) -> Operation:
        """The operation once done, or as it stands after `timeout` seconds."""
        request = operations_pb2.WaitOperationRequest(
            name=name, timeout=duration_pb2.Duration(seconds=int(timeout), nanos=int(timeout % 1 * 1e9))
        )
        try:
            answer = self._operations.WaitOperation(request, metadata=self._metadata, timeout=timeout + 10)
        except grpc.RpcError as err:
            raise AdpulseError.from_rpc_error(err) from None
        return Operation.of(answer)

    # -- trends, anomalies, explanations, insights

    # Analytics beyond QueryMetrics return the response messages themselves: they are nested
    # (series of points, dimensions of contributors), and `google.protobuf.json_format` turns
    # them into plain dicts when needed.

    def get_trends(
        self,
        *,
        metrics: Sequence[str],
        by: Sequence[str] = (),
        start: str = "",
        end: str = "",
        granularity: Granularity = "day",
        filters: Mapping[str, Sequence[str]] | None = None,
        moving_average: int = 0,
        limit: int | None = None,
    ) -> apb.GetTrendsResponse:
        """Series per group (all pages, up to `limit` series)."""
        request = apb.GetTrendsRequest(
            start_date=start,
            end_date=end,
            metrics=[METRICS[m] for m in metrics],
            dimensions=[DIMENSIONS[d] for d in by],
            granularity=GRANULARITIES[granularity],
            filters=_filters(filters),
            moving_average=moving_average,
            page_size=1000 if limit is None else max(1, min(limit, 1000)),
        )
        result = apb.GetTrendsResponse()
        while True:
            page: apb.GetTrendsResponse = self._call(self._analytics.GetTrends, request)
            series = list(result.series) + list(page.series)
            result.CopyFrom(page)
            del result.series[:]
            result.series.extend(series[:limit] if limit is not None else series)
            if not page.next_page_token or (limit is not None and len(series) >= limit):
                return result
            request.page_token = page.next_page_token

    def detect_anomalies(
        self,
        *,
        metric: str,
        by: Sequence[str] = (),
        start: str = "",
        end: str = "",
        filters: Mapping[str, Sequence[str]] | None = None,
        method: str = "auto",
        sensitivity: str = "medium",
        window_days: int = 0,
        min_change: float | None = None,
        include_series: bool = False,
    ) -> apb.DetectAnomaliesResponse:
        request = apb.DetectAnomaliesRequest(
            start_date=start,
            end_date=end,
            metric=METRICS[metric],
            dimensions=[DIMENSIONS[d] for d in by],
            filters=_filters(filters),
            method=METHODS[method],
            sensitivity=SENSITIVITIES[sensitivity],
            window_days=window_days,
            include_series=include_series,
        )
        if min_change is not None:
            request.min_change.value = min_change
        response: apb.DetectAnomaliesResponse = self._call(self._analytics.DetectAnomalies, request)
        return response

    def explain_change(
        self,
        *,
        metric: str,
        start: str,
        end: str,
        baseline_start: str = "",
        baseline_end: str = "",
        by: Sequence[str] = (),
        filters: Mapping[str, Sequence[str]] | None = None,
        max_contributors: int = 0,
    ) -> apb.ExplainChangeResponse:
        request = apb.ExplainChangeRequest(
            metric=METRICS[metric],
            current_start_date=start,
            current_end_date=end,
            baseline_start_date=baseline_start,
            baseline_end_date=baseline_end,
            dimensions=[DIMENSIONS[d] for d in by],
            filters=_filters(filters),
            max_contributors=max_contributors,
        )
        response: apb.ExplainChangeResponse = self._call(self._analytics.ExplainChange, request)
        return response

    def generate_insights(
        self,
        *,
        start: str = "",
        end: str = "",
        filters: Mapping[str, Sequence[str]] | None = None,
        sensitivity: str = "medium",
        max_shift: float | None = None,
        stories: bool = False,
        max_insights: int = 0,
    ) -> apb.GenerateInsightsResponse:
        request = apb.GenerateInsightsRequest(
            start_date=start,
            end_date=end,
            filters=_filters(filters),
            sensitivity=SENSITIVITIES[sensitivity],
            include_stories=stories,
            max_insights=max_insights,
        )
        if max_shift is not None:
            request.max_shift.value = max_shift
        response: apb.GenerateInsightsResponse = self._call(self._analytics.GenerateInsights, request)
        return response

    def list_insights(
        self, *, statuses: Sequence[str] = (), campaign_id: str = "", limit: int | None = None
    ) -> list[apb.Insight]:
        """Stored insights, highest priority first (all pages, up to `limit`)."""
        request = apb.ListInsightsRequest(
            statuses=[INSIGHT_STATUSES[s] for s in statuses],
            campaign_id=campaign_id,
            page_size=1000 if limit is None else max(1, min(limit, 1000)),
        )
        found: list[apb.Insight] = []
        while True:
            page: apb.ListInsightsResponse = self._call(self._analytics.ListInsights, request)
            found.extend(page.insights)
            if not page.next_page_token or (limit is not None and len(found) >= limit):
                return found[:limit] if limit is not None else found
            request.page_token = page.next_page_token

    def update_insight(
        self, name: str, *, status: str | None = None, feedback: str | None = None
    ) -> apb.Insight:
        """Changes an insight's status (new, acknowledged, dismissed) and/or feedback."""
        insight = apb.Insight(name=name)
        paths = []
        if status is not None:
            insight.status = INSIGHT_STATUSES[status]
            paths.append("status")
        if feedback is not None:
            insight.feedback = feedback
            paths.append("feedback")
        request = apb.UpdateInsightRequest(insight=insight)
        request.update_mask.paths.extend(paths)
        response: apb.Insight = self._call(self._analytics.UpdateInsight, request)
        return response

    def set_budget(
        self,
        *,
        platform: str,
        account_id: str,
        campaign_id: str,
        month: str,
        amount_micros: int,
        currency: str,
    ) -> apb.Budget:
        budget = apb.Budget(
            platform=platform,
            account_id=account_id,
            campaign_id=campaign_id,
            month=month,
            amount_micros=amount_micros,
            currency=currency,
        )
        response: apb.Budget = self._call(self._analytics.SetBudget, apb.SetBudgetRequest(budget=budget))
        return response


class _Opened:
    """The server's answer to `open`, handed from the response side to the request side."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self._closed = False
        self.run_id = ""
        self._last_batch_id = ""

    def set(self, opened: ipb.StreamOpened) -> None:
        self.run_id, self._last_batch_id = opened.run_id, opened.last_committed_batch_id
        self._event.set()

    def close(self) -> None:
        """The call ended: a request side still waiting must not wait forever."""
        self._closed = True
        self._event.set()

    def last_batch_id(self) -> str:
        self._event.wait()
        return self._last_batch_id


def _batches_up_to(
    files: Sequence[Path], options: StreamOptions, batch_bytes: int, last_batch_id: str
) -> int:
    """How many of the files' batches come up to and including `last_batch_id`; 0 if none is it
    (the files changed, so all are sent: replays of committed content are no-ops anyway)."""
    if not last_batch_id:
        return 0
    ids = (
        chunk.batch_id
        for path in files
        for chunk in batches(path, options.source, batch_bytes, options.reading())
    )
    return next((i + 1 for i, batch_id in enumerate(ids) if batch_id == last_batch_id), 0)


def _filters(filters: Mapping[str, Sequence[str]] | None) -> list[apb.DimensionFilter]:
    return [apb.DimensionFilter(dimension=DIMENSIONS[d], values=list(v)) for d, v in (filters or {}).items()]
