"""Arrow input: pyarrow Tables, anything with the Arrow PyCapsule stream interface (polars and
pandas DataFrames, DuckDB results), and Parquet and Arrow IPC files, cut into Arrow IPC batches.

Columns are named like the generic CSV header (`date`, `platform`, …, `cost`, `revenue`; money
may also be int64 `cost_micros` / `revenue_micros` / `conversions_micros`). pyarrow is needed only
here, so the client installs without it (`pip install adpulse-client[arrow]`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ARROW_SUFFIXES = frozenset({".parquet", ".pq", ".arrow", ".arrows", ".feather", ".ipc"})
DEFAULT_BATCH_ROWS = 50_000


@dataclass(frozen=True)
class ArrowBatch:
    """A batch of rows as one Arrow IPC stream; `first_row` is the 1-based row of its first row."""

    batch_id: str
    data: bytes
    first_row: int

    def row_of(self, batch_row: int) -> int:
        return self.first_row + batch_row - 1


def is_arrow_file(path: Path) -> bool:
    return path.suffix.lower() in ARROW_SUFFIXES


def _pyarrow() -> Any:
    try:
        import pyarrow as pa
        import pyarrow.ipc
        import pyarrow.parquet
    except ImportError:  # pragma: no cover - depends on the installation
        raise ImportError(
            "Arrow and Parquet input need pyarrow: pip install 'adpulse-client[arrow]'"
        ) from None
    return pa


def table_batches(table: Any, batch_rows: int = DEFAULT_BATCH_ROWS) -> Iterator[Any]:
    """The record batches of a pyarrow Table, or of anything with `__arrow_c_stream__`."""
    pa = _pyarrow()
    if not isinstance(table, pa.Table | pa.RecordBatch) and not hasattr(table, "__arrow_c_stream__"):
        raise TypeError(f"{type(table).__name__} is neither a pyarrow Table nor an Arrow stream (PyCapsule)")
    # Not a generator: a wrong argument fails at the call, before any stream opens.
    return iter(pa.table(table).to_batches(max_chunksize=batch_rows))


def file_batches(path: Path, batch_rows: int = DEFAULT_BATCH_ROWS) -> Iterator[Any]:
    """The record batches of a Parquet file, read a row group at a time, or of an Arrow IPC file
    or stream."""
    pa = _pyarrow()
    if path.suffix.lower() in {".parquet", ".pq"}:
        yield from pa.parquet.ParquetFile(path).iter_batches(batch_size=batch_rows)
        return
    with pa.memory_map(str(path)) as source:
        try:
            reader = pa.ipc.open_file(source)
            batches = (reader.get_batch(i) for i in range(reader.num_record_batches))
        except pa.ArrowInvalid:  # not the file format: the stream format
            source.seek(0)
            batches = iter(pa.ipc.open_stream(source))
        for batch in batches:
            yield from pa.Table.from_batches([batch]).to_batches(max_chunksize=batch_rows)


def ipc_batches(record_batches: Iterator[Any], source: str, reading: bytes = b"") -> Iterator[ArrowBatch]:
    """Each record batch as an IPC stream, with an id from its bytes and from `reading` (how the
    stream reads them), so that the same rows sent again are a replay the server recognises."""
    pa = _pyarrow()
    row = 1
    for batch in record_batches:
        if batch.num_rows == 0:
            continue
        sink = pa.BufferOutputStream()
        with pa.ipc.new_stream(sink, batch.schema) as writer:
            writer.write_batch(batch)
        data = sink.getvalue().to_pybytes()
        digest = hashlib.sha256(reading + data).hexdigest()[:32]
        yield ArrowBatch(f"{source}-arrow-{digest}", data, row)
        row += batch.num_rows
