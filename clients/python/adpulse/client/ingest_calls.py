"""Ingest calls: streams of batches, files, runs, stats, checkpoints, exchange rates."""

from __future__ import annotations

import collections
import gzip
import itertools
import os
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import grpc

from adpulse.client.connection import Connection
from adpulse.client.errors import AdpulseError
from adpulse.client.files import DEFAULT_BATCH_BYTES, FileBatch, batches
from adpulse.v1 import ingest_service_pb2 as ipb
from adpulse.v1 import ingestion_run_pb2 as rpb

_TEXT_FORMATS = {"csv": ipb.TEXT_FORMAT_CSV, "ndjson": ipb.TEXT_FORMAT_NDJSON}


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


class IngestCalls(Connection):
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
