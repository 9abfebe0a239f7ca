"""ImportFile: a file on the server, cut at row boundaries into chunks, each one ledger batch.

The chunk with number n is batch `<operation id>:<n>` of the tenant's ledger, and the cut is
deterministic (same file, same chunk size), so a chunk retried after a failure or a dead
worker is a replay or a completion of the same batch, never a second copy. The checkpoint
says how many chunks are done; a slice resumes after them. The final counts come from the
ledger, which records each batch's outcome once, however often it was sent.
"""

from __future__ import annotations

import gzip
import io
import zlib
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, BinaryIO

from adpulse.files import FileBatch, LineTooLong, format_of, split
from adpulse.server.domain.errors import AdpulseError, FieldViolation, InvalidArgument, StorageUnavailable
from adpulse.server.domain.ingest import (
    BatchPayload,
    ClicksPolicy,
    DriftPolicy,
    IngestStream,
    RejectPolicy,
    StreamSpec,
)
from adpulse.server.domain.operations import Progress, printable
from adpulse.server.domain.runs import RunState
from adpulse.server.ports import FileArea, OperationStore
from adpulse.server.usecases.ingest import IngestUseCase
from adpulse.server.usecases.jobs.runner import JobContext

MAX_ERRORS = 100
DEFAULT_CHUNK_BYTES = 4 << 20
MIN_CHUNK_BYTES = 64 << 10
MAX_CHUNK_BYTES = 64 << 20


def import_params(
    *,
    path: str,
    source: str,
    source_options: Mapping[str, str],
    reject: RejectPolicy,
    clicks: ClicksPolicy,
    drift: DriftPolicy,
    chunk_bytes: int,
) -> dict[str, Any]:
    """The stored request of an import, checked."""
    if chunk_bytes and not MIN_CHUNK_BYTES <= chunk_bytes <= MAX_CHUNK_BYTES:
        raise InvalidArgument(
            f"chunk_bytes must be between {MIN_CHUNK_BYTES} and {MAX_CHUNK_BYTES}",
            "INVALID_CHUNK_SIZE",
            violations=[
                FieldViolation("chunk_bytes", f"{MIN_CHUNK_BYTES} to {MAX_CHUNK_BYTES}", "INVALID_CHUNK_SIZE")
            ],
        )
    return {
        "path": path,
        "source": source,
        "source_options": dict(source_options),
        "reject": reject.value,
        "clicks": clicks.value,
        "drift": drift.value,
        "chunk_bytes": chunk_bytes or DEFAULT_CHUNK_BYTES,
    }


class _Counting(io.RawIOBase):
    """Counts the bytes read from the file, for progress through a compressed file too."""

    def __init__(self, raw: BinaryIO) -> None:
        self._raw = raw
        self.position = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        n = self._raw.readinto(buffer)  # type: ignore[attr-defined]
        self.position += n or 0
        return n  # type: ignore[no-any-return]

    def close(self) -> None:
        self._raw.close()
        super().close()


class ImportFileJob:
    def __init__(self, ingest: IngestUseCase, files: FileArea, store: OperationStore) -> None:
        self._ingest = ingest
        self._files = files
        self._store = store

    def check(self, tenant: str, params: Mapping[str, Any]) -> None:
        """Refuses a request that cannot work before it becomes an operation."""
        self._files.import_size(tenant, params["path"])

    def run(self, ctx: JobContext) -> Mapping[str, Any] | None:
        operation = ctx.operation
        p = operation.params
        spec = StreamSpec(
            source=p["source"],
            policy=RejectPolicy(p["reject"]),
            stream_id=f"import-{operation.op_id}",
            options=p["source_options"],
            clicks=ClicksPolicy(p["clicks"]),
            drift=DriftPolicy(p["drift"]),
        )
        stream = self._ingest.open_stream(operation.tenant, spec)
        state, error = RunState.FAILED, "the import stopped abnormally"
        try:
            result = self._chunks(ctx, stream)
            state, error = RunState.SUCCEEDED, ""
        except AdpulseError as err:
            state, error = (
                (RunState.CANCELLED, "") if err.reason == "CANCELLED" else (RunState.FAILED, err.message)
            )
            raise
        finally:
            self._ingest.finish_stream(stream, state, error)
        if result is not None:
            result["run_id"] = stream.run_id
            self._files.remove_upload(operation.tenant, p["path"])
        return result

    def _chunks(self, ctx: JobContext, stream: IngestStream) -> dict[str, Any] | None:
        operation = ctx.operation
        tenant, path = operation.tenant, operation.params["path"]
        done = dict(operation.checkpoint) or {"chunks": 0, "rows": 0, "errors": [], "truncated": False}
        done.setdefault("ignored", [])
        done.setdefault("missing", [])
        size = max(self._files.import_size(tenant, path), 1)
        with self._files.open_import(tenant, path) as raw:
            counting = _Counting(raw)
            for index, chunk in enumerate(
                _read(
                    counting,
                    path,
                    stream.source,
                    operation.params["chunk_bytes"],
                    self._ingest.max_line_bytes,
                )
            ):
                if index < done["chunks"]:
                    continue
                batch_id = f"{operation.op_id}:{index:06d}"
                try:
                    outcome = self._ingest.ingest_batch(stream, BatchPayload(batch_id, chunk.fmt, chunk.data))
                except StorageUnavailable:
                    raise
                except AdpulseError as err:
                    raise _in_chunk(err, path, chunk) from None
                done["chunks"] = index + 1
                done["rows"] += outcome.accepted + outcome.rejected + outcome.duplicates
                for e in outcome.errors:
                    if len(done["errors"]) < MAX_ERRORS:
                        done["errors"].append([chunk.file_line(e.line), e.field, e.reason])
                    else:
                        done["truncated"] = True
                done["truncated"] |= outcome.errors_truncated
                done["ignored"] = sorted({*done["ignored"], *outcome.ignored_columns})
                done["missing"] = sorted({*done["missing"], *outcome.missing_columns})
                percent = min(99.0, 100.0 * counting.position / size)
                ctx.report(Progress(percent, done["rows"], 0, f"imported chunk {index + 1}"), done)
                if ctx.out_of_time():
                    return None
        ids = [f"{operation.op_id}:{i:06d}" for i in range(done["chunks"])]
        accepted, rejected, duplicates = self._store.batch_totals(tenant, ids)
        ctx.progress = Progress(100.0, done["rows"], done["rows"], "done")
        return {
            "path": path,
            "rows_accepted": accepted,
            "rows_rejected": rejected,
            "rows_duplicate": duplicates,
            "chunks": done["chunks"],
            "errors": done["errors"],
            "errors_truncated": done["truncated"],
            "ignored_columns": done["ignored"],
            "missing_columns": done["missing"],
        }


def _read(
    raw: io.RawIOBase, path: str, source: str, chunk_bytes: int, max_line_bytes: int
) -> Iterator[FileBatch]:
    """The file's chunks; a file that cannot be decompressed is INVALID_ARGUMENT (a poison file
    fails its operation once, it is not retried)."""
    # A small buffer keeps the bytes read (the progress) close to the rows already imported.
    buffered = io.BufferedReader(raw, 64 << 10)
    stream: BinaryIO = gzip.GzipFile(fileobj=buffered) if path.lower().endswith(".gz") else buffered  # type: ignore[assignment]
    try:
        yield from split(stream, format_of(Path(path)), source, chunk_bytes, max_line_bytes=max_line_bytes)
    except LineTooLong as err:
        raise InvalidArgument(
            f"{path!r}: {err}; files are read a line at a time and lines are capped",
            "LINE_TOO_LONG",
            metadata={"path": path, "line": str(err.line)},
            violations=[
                FieldViolation(f"path:line {err.line}", f"longer than {err.max_bytes} bytes", "LINE_TOO_LONG")
            ],
        ) from None
    except (gzip.BadGzipFile, EOFError, zlib.error) as err:
        raise InvalidArgument(
            f"{path!r} is not a readable gzip file ({err})",
            "UNREADABLE_FILE",
            metadata={"path": path},
            violations=[FieldViolation("path", "not a readable gzip file", "UNREADABLE_FILE")],
        ) from None


def _in_chunk(err: AdpulseError, path: str, chunk: FileBatch) -> AdpulseError:
    """The chunk's error, told as a place in the file."""
    err.message = printable(f"{path!r} from line {chunk.first_line}: {err.message}")
    err.metadata = {**err.metadata, "path": path, "first_line": str(chunk.first_line)}
    return err
