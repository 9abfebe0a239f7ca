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
from typing import Any

import grpc

from adpulse.client.connection import Connection
from adpulse.client.errors import AdpulseError
from adpulse.client.tables import (
    DEFAULT_BATCH_ROWS,
    ArrowBatch,
    file_batches,
    ipc_batches,
    is_arrow_file,
    table_batches,
)
from adpulse.files import DEFAULT_BATCH_BYTES, FileBatch, batches
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

        # gRPC runs the request iterator on its own thread and reports what it raises only as
        # "UNKNOWN: Exception iterating requests!"; the error is kept and raised here instead.
        failed: list[Exception] = []

        def requests() -> Iterator[ipb.IngestRequest]:
            try:
                yield ipb.IngestRequest(open=opening)
                for batch in batches:
                    yield ipb.IngestRequest(batch=batch)
            except Exception as err:  # noqa: BLE001 - raised again on the caller's side below
                failed.append(err)
                call.cancel()

        call = self._ingest.Ingest(requests(), metadata=self._metadata)
        try:
            for response in call:
                if response.WhichOneof("response") == "ack":
                    yield response.ack
                elif on_open is not None:
                    on_open(response.opened)
        except grpc.RpcError as err:
            if failed:
                raise failed[0] from None
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
        """Streams CSV/NDJSON files (`.gz` too) in batches, and Parquet and Arrow IPC files as
        Arrow batches; errors name the file line (for Arrow input, the file's row).

        With `resume` (and a `stream_id` in the options) the batches up to the stream's last
        committed one are not sent again. `compress` gzips each text batch on the wire. A
        missing or unreadable file fails here, before anything is sent.
        """
        options = options or StreamOptions()
        if resume and not options.stream_id:
            raise ValueError("resume needs a stream_id")
        files = [Path(p) for p in paths]
        for path in files:
            path.open("rb").close()  # FileNotFoundError / PermissionError / IsADirectoryError
        opened = _Opened()
        report = IngestReport()

        def chunks() -> Iterator[_Chunk]:
            skip = _batches_up_to(files, options, batch_bytes, opened.last_batch_id()) if resume else 0
            report.skipped_batches = skip
            every = (c for path in files for c in _file_chunks(path, options, batch_bytes, compress))
            yield from itertools.islice(every, skip, None)

        return self._stream_chunks(chunks(), options, opened, report, on_ack)

    def ingest_table(
        self,
        table: Any,
        options: StreamOptions | None = None,
        *,
        name: str = "table",
        batch_rows: int = DEFAULT_BATCH_ROWS,
        on_ack: Callable[[IngestReport], None] | None = None,
    ) -> IngestReport:
        """Streams a pyarrow Table, or anything with the Arrow PyCapsule stream interface
        (`__arrow_c_stream__`: polars, pandas, DuckDB), as Arrow batches of `batch_rows` rows.

        Columns are named like the generic CSV header. The report is that of `ingest_files`,
        its errors naming the table's 1-based row (as `line`) and `name` as the file.
        """
        options = options or StreamOptions()
        arrow = ipc_batches(table_batches(table, batch_rows), options.source, options.reading())
        chunks = (_arrow_chunk(name, batch) for batch in arrow)
        return self._stream_chunks(chunks, options, _Opened(), IngestReport(), on_ack)

    def _stream_chunks(
        self,
        chunks: Iterator[_Chunk],
        options: StreamOptions,
        opened: _Opened,
        report: IngestReport,
        on_ack: Callable[[IngestReport], None] | None,
    ) -> IngestReport:
        """One stream of the chunks; every ack is added to `report`, errors placed by their chunk."""
        sent: collections.deque[_Chunk] = collections.deque()

        def requests() -> Iterator[ipb.IngestBatch]:
            for chunk in chunks:
                sent.append(chunk)
                report.bytes_sent += chunk.batch.ByteSize()
                yield chunk.batch

        def placed(chunk: _Chunk, errors: Iterable[ipb.RowError]) -> list[FileRowError]:
            return [FileRowError(chunk.origin, chunk.locate(e), e.field, e.reason) for e in errors]

        try:
            for ack in self.ingest(requests(), options, on_open=opened.set):
                chunk = sent.popleft()
                report.accepted += ack.accepted
                report.rejected += ack.rejected
                report.duplicates += ack.duplicates
                report.errors_truncated |= ack.errors_truncated
                report.ignored_columns.update(ack.ignored_columns)
                report.missing_columns.update(ack.missing_columns)
                report.errors += placed(chunk, ack.errors)
                report.warnings += placed(chunk, ack.warnings)
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


@dataclass(frozen=True)
class _Chunk:
    """One batch to send: where its rows come from, and how to place a row error in that origin."""

    origin: str
    batch: ipb.IngestBatch
    locate: Callable[[ipb.RowError], int]


def _text_chunk(path: Path, chunk: FileBatch, compress: bool) -> _Chunk:
    text = ipb.TextPayload(
        format=_TEXT_FORMATS[chunk.fmt],
        data=gzip.compress(chunk.data, compresslevel=1) if compress else chunk.data,
        compression=ipb.COMPRESSION_GZIP if compress else ipb.COMPRESSION_NONE,
    )
    batch = ipb.IngestBatch(batch_id=chunk.batch_id, text=text)
    return _Chunk(str(path), batch, lambda e: chunk.file_line(e.line))


def _arrow_chunk(origin: str, chunk: ArrowBatch) -> _Chunk:
    batch = ipb.IngestBatch(batch_id=chunk.batch_id, arrow_ipc=chunk.data)
    return _Chunk(origin, batch, lambda e: chunk.row_of(e.row))


def _file_chunks(path: Path, options: StreamOptions, batch_bytes: int, compress: bool) -> Iterator[_Chunk]:
    if is_arrow_file(path):
        arrow = ipc_batches(file_batches(path), options.source, options.reading())
        return (_arrow_chunk(str(path), batch) for batch in arrow)
    text = batches(path, options.source, batch_bytes, options.reading())
    return (_text_chunk(path, chunk, compress) for chunk in text)


def _batches_up_to(
    files: Sequence[Path], options: StreamOptions, batch_bytes: int, last_batch_id: str
) -> int:
    """How many of the files' batches come up to and including `last_batch_id`; 0 if none is it
    (the files changed, so all are sent: replays of committed content are no-ops anyway)."""
    if not last_batch_id:
        return 0
    ids = (c.batch.batch_id for path in files for c in _file_chunks(path, options, batch_bytes, False))
    return next((i + 1 for i, batch_id in enumerate(ids) if batch_id == last_batch_id), 0)
