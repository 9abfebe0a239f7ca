"""ExportMetrics: the groups of a metrics query written to a Parquet or CSV file.

ClickHouse streams the grouped sums ordered by the group key, in Arrow batches; the rows of a
group (one per currency) are adjacent, so a batch is cut after its last complete group and
the kernel turns each run of complete groups into KPIs. Memory holds one batch, whatever the
size of the export.

A slice writes one part of about `part_rows` groups at most (less when its time is up) and
checkpoints the key of its last group; the next slice resumes after that key. So no task holds
its broker message for long, however big the export, and a worker that dies loses one part at
most. The parts are joined into the file beside its final name, which is renamed when
complete, so a download never sees half a file.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import shutil
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from adpulse.server.domain.errors import FailedPrecondition, FieldViolation, InvalidArgument, NotFound
from adpulse.server.domain.metrics_query import (
    Dimension,
    DimensionFilter,
    Granularity,
    MetricsQuery,
    build_query,
)
from adpulse.server.domain.operations import Operation, OperationKind, OperationState, Progress, not_found
from adpulse.server.ports import FactStore, FileArea, Kernel, TenantSettingsStore
from adpulse.server.usecases.jobs.runner import JobContext
from adpulse.server.usecases.query_metrics import require_rates

FORMATS = {"parquet": ".parquet", "csv": ".csv"}
_MONEY = {"cost_micros": "cost", "conversions_micros": "conversions", "revenue_micros": "revenue"}
_DECIMAL = pa.decimal128(18, 6)
DOWNLOAD_CHUNK_BYTES = 1 << 20
# Groups per Arrow batch read from ClickHouse: memory holds about one.
BLOCK_ROWS = 65536


def export_params(
    *,
    start_date: str,
    end_date: str,
    dimensions: Sequence[Dimension],
    granularity: Granularity,
    filters: Sequence[DimensionFilter],
    reporting_currency: str,
    fmt: str,
) -> dict[str, Any]:
    """The stored request of an export, validated like a QueryMetrics request."""
    params = {
        "start_date": start_date,
        "end_date": end_date,
        "dimensions": [d.value for d in dimensions],
        "granularity": granularity.value,
        "filters": [[f.dimension.value, list(f.values), f.exclude] for f in filters],
        "reporting_currency": reporting_currency,
        "format": fmt,
    }
    _query("", params)
    return params


def _query(tenant: str, p: Mapping[str, Any]) -> MetricsQuery:
    return build_query(
        tenant=tenant,
        start_date=p["start_date"],
        end_date=p["end_date"],
        dimensions=tuple(Dimension(d) for d in p["dimensions"]),
        granularity=Granularity(p["granularity"]),
        filters=tuple(DimensionFilter(Dimension(d), tuple(v), x) for d, v, x in p["filters"]),
        order_by="",
        page_size=0,
        offset=0,
        reporting_currency=p["reporting_currency"],
    )


class ExportMetricsJob:
    def __init__(
        self,
        kernel: Kernel,
        facts: FactStore,
        settings: TenantSettingsStore,
        files: FileArea,
        part_rows: int = 1_000_000,
    ) -> None:
        self._kernel = kernel
        self._facts = facts
        self._settings = settings
        self._files = files
        self._part_rows = part_rows
        self._block_rows = min(part_rows, BLOCK_ROWS)

    def run(self, ctx: JobContext) -> Mapping[str, Any] | None:
        operation = ctx.operation
        query = _query(operation.tenant, operation.params)
        currency = query.reporting_currency or self._settings.reporting_currency(operation.tenant)
        if currency:
            require_rates(self._facts.missing_rates(query.selection, currency), currency)
        fmt = operation.params["format"]
        self._files.require_room(operation.tenant)
        target = self._files.export_path(operation.tenant, operation.op_id, FORMATS[fmt])
        done = dict(operation.checkpoint) or {"parts": 0, "rows": 0, "after": []}
        keys = list(query.key_columns)
        with_name = "campaign_id" in keys
        carry = ["campaign_name"] if with_name else []
        part = _part(target, done["parts"])
        part.unlink(missing_ok=True)  # what a worker that died in this part left of it
        batches = self._facts.stream_grouped_sums(
            query.selection,
            query.group_columns,
            with_name,
            currency,
            after=done["after"],
            block_rows=self._block_rows,
        )
        rows, finished = done["rows"], True
        with _Writer(part, fmt) as writer:
            for groups in _complete_groups(batches, keys):
                table = self._kernel.aggregate(groups, keys, carry)
                if keys:
                    table = table.take(pc.sort_indices(table, sort_keys=[(k, "ascending") for k in keys]))
                writer.write(_for_file(table))
                rows += table.num_rows
                ctx.report(Progress(0.0, rows, 0, f"exported {rows} rows"), done)
                if ctx.stopping.is_set():
                    return None  # the part is redone from the checkpoint
                # Stop before a block that would take the part past `part_rows` groups.
                if keys and (writer.rows + self._block_rows > self._part_rows or ctx.out_of_time()):
                    last = table.slice(table.num_rows - 1, 1).to_pylist()[0]
                    done = {"parts": done["parts"] + 1, "rows": rows, "after": [_text(last[k]) for k in keys]}
                    finished = False
                    break
            if finished and done["parts"] == 0 and not writer.written:
                # Nothing matched: the file still has its columns (and, without dimensions, the
                # one row of zero totals a query would answer).
                empty = self._facts.grouped_sums(query.selection, query.group_columns, with_name, currency)
                table = self._kernel.aggregate(empty, keys, carry)
                writer.write(_for_file(table))
                rows = table.num_rows
        if not finished:
            ctx.report(Progress(0.0, rows, 0, f"exported {rows} rows"), done)
            return None
        parts = [_part(target, i) for i in range(done["parts"] + 1) if _part(target, i).exists()]
        partial = target.with_name(target.name + ".part")
        _join(parts, partial, fmt)
        partial.chmod(0o600)  # the tenant's file: the server's user alone reads it, whatever the umask
        os.replace(partial, target)
        for p in parts:
            p.unlink()
        digest = hashlib.sha256()
        with target.open("rb") as f:
            while block := f.read(DOWNLOAD_CHUNK_BYTES):
                digest.update(block)
        ctx.progress = Progress(100.0, rows, rows, "done")
        return {
            "rows": rows,
            "size_bytes": target.stat().st_size,
            "sha256": digest.hexdigest(),
            "format": fmt,
            "file_name": f"metrics-{operation.op_id.removeprefix('op-')[:12]}{FORMATS[fmt]}",
        }


def _part(target: Path, index: int) -> Path:
    return target.with_name(f"{target.name}.part{index:05d}")


def _text(value: object) -> str:
    """A key value as the checkpoint keeps it (JSON): dates in ISO form."""
    return value.isoformat() if isinstance(value, dt.date) else str(value)


def _join(parts: Sequence[Path], path: Path, fmt: str) -> None:
    """The parts one after the other in one file, read a row group (or a block) at a time."""
    if fmt == "csv":
        with path.open("wb") as out:
            for i, part in enumerate(parts):
                with part.open("rb") as f:
                    if i:
                        f.readline()  # every part starts with the header
                    shutil.copyfileobj(f, out, DOWNLOAD_CHUNK_BYTES)
        return
    writer: pq.ParquetWriter | None = None
    try:
        for part in parts:
            source = pq.ParquetFile(part)
            if writer is None:
                writer = pq.ParquetWriter(path, source.schema_arrow)
            for group in range(source.num_row_groups):
                writer.write_table(source.read_row_group(group).cast(writer.schema))
    finally:
        if writer is not None:
            writer.close()


def _metrics_suffix(result: Mapping[str, Any]) -> str:
    return FORMATS[result["format"]]


class ExportDownloads:
    """The file of a finished export of one kind, in pieces; an operation of another kind is
    not found (each kind is downloaded by its own RPC, with that RPC's scope)."""

    def __init__(
        self,
        files: FileArea,
        kind: OperationKind = OperationKind.EXPORT_METRICS,
        suffix: Callable[[Mapping[str, Any]], str] = _metrics_suffix,
    ) -> None:
        self._files = files
        self._kind = kind
        self._suffix = suffix

    def read(self, operation: Operation, offset: int) -> Iterator[bytes]:
        if offset < 0:
            raise InvalidArgument(
                "offset must not be negative",
                "INVALID_OFFSET",
                violations=[FieldViolation("offset", "must not be negative", "INVALID_OFFSET")],
            )
        if operation.kind is not self._kind:
            raise not_found(operation.name)
        if operation.state is not OperationState.SUCCEEDED or operation.result is None:
            raise FailedPrecondition(
                "the export has not finished successfully",
                "EXPORT_NOT_READY",
                metadata={"name": operation.name},
            )
        path = self._files.export_path(operation.tenant, operation.op_id, self._suffix(operation.result))
        if not path.exists():
            raise NotFound("the export's file is gone", "EXPORT_FILE_GONE", metadata={"name": operation.name})
        return _pieces(path, offset)


def _pieces(path: Path, offset: int) -> Iterator[bytes]:
    with path.open("rb") as f:
        f.seek(offset)
        while block := f.read(DOWNLOAD_CHUNK_BYTES):
            yield block


def _complete_groups(batches: Iterator[pa.RecordBatch], keys: list[str]) -> Iterator[pa.Table]:
    """Tables of whole groups: the rows sharing the key of a batch's last row wait for the next
    batch, which may hold more of that group."""
    pending: pa.Table | None = None
    for batch in batches:
        table = pa.Table.from_batches([batch])
        if pending is not None:
            table = pa.concat_tables([pending, table])
        if not keys:  # one group over everything: the whole stream is one group
            pending = table
            continue
        last = table.slice(table.num_rows - 1, 1)
        same = None
        for key in keys:
            equal = pc.equal(table[key], last[key][0])
            same = equal if same is None else pc.and_(same, equal)
        assert same is not None
        differing = np.flatnonzero(~same.to_numpy(zero_copy_only=False))
        cut = int(differing[-1]) + 1 if len(differing) else 0
        if cut:
            yield table.slice(0, cut)
        pending = table.slice(cut)
    if pending is not None and pending.num_rows:
        yield pending


def _decimal(micros: pa.Array | pa.ChunkedArray) -> pa.Array:
    """Exact money: int64 millionths are the unscaled values of a decimal with scale 6."""
    micros = micros.combine_chunks() if isinstance(micros, pa.ChunkedArray) else micros
    values = micros.fill_null(0).to_numpy(zero_copy_only=False).astype(np.int64)
    unscaled = np.empty((len(values), 2), np.int64)
    unscaled[:, 0], unscaled[:, 1] = values, values >> 63  # 128-bit little-endian, sign-extended
    validity = pc.is_valid(micros).buffers()[1] if micros.null_count else None
    return pa.Array.from_buffers(_DECIMAL, len(values), [validity, pa.py_buffer(unscaled.tobytes())])


def _for_file(table: pa.Table) -> pa.Table:
    """Money as exact decimals under plain names; KPIs stay doubles (null when undefined)."""
    columns, names = [], []
    for name in table.column_names:
        money = name in _MONEY
        columns.append(_decimal(table[name]) if money else table[name])
        names.append(_MONEY[name] if money else name)
    return pa.table(columns, names=names)


# OWASP's CSV injection rule: a spreadsheet runs a cell that starts with one of these as a
# formula, so such a text cell is written behind a single quote (shown, never evaluated).
_FORMULA_START = r"^[=+\-@\t\r]"


def formula_safe(table: pa.Table) -> pa.Table:
    """`table` with every text cell that a spreadsheet would evaluate quoted with a leading `'`."""
    for i, field in enumerate(table.schema):
        if not (pa.types.is_string(field.type) or pa.types.is_large_string(field.type)):
            continue
        column = table.column(i)
        risky = pc.fill_null(pc.match_substring_regex(column, _FORMULA_START), False)
        quoted = pc.binary_join_element_wise(pa.scalar("'", field.type), column, pa.scalar("", field.type))
        table = table.set_column(i, field, pc.if_else(risky, quoted, column))
    return table


class _Writer:
    def __init__(self, path: Path, fmt: str) -> None:
        self._path = path
        self._fmt = fmt
        self._writer: Any = None
        self._schema: pa.Schema | None = None
        self.rows = 0

    @property
    def written(self) -> bool:
        return self._writer is not None

    def __enter__(self) -> _Writer:
        return self

    def write(self, table: pa.Table) -> None:
        if self._schema is None:
            self._schema = table.schema
            writer = pq.ParquetWriter if self._fmt == "parquet" else pa_csv.CSVWriter
            self._writer = writer(self._path, self._schema)
        table = table.cast(self._schema)
        self._writer.write_table(formula_safe(table) if self._fmt == "csv" else table)
        self.rows += table.num_rows

    def __exit__(self, *exc: object) -> None:
        if self._writer is not None:
            self._writer.close()
