"""The tenant's data lifecycle as jobs: export everything, delete everything, and retention.

An export writes one zip archive: each ClickHouse table of the tenant as Parquet (as stored:
money and conversions in integer millionths, the latest version of each key), each Postgres
table as JSON Lines (one row per line, secrets left out), and `manifest.json` naming them with
their row counts. Parquet goes in uncompressed (it is compressed already), JSON deflated. The
archive is written beside its final name and renamed when complete, so a download never sees
half of one; a worker that dies mid-way leaves a partial file that the next attempt starts over.

A deletion goes store by store, recording after each what it deleted, so a retried slice goes
on where the last stopped; then it counts what is left of the tenant in every store, which is
its proof, and appends the deletion to the audit log. That append is not best-effort (unlike a
call's audit event): if the log's store fails, the slice fails and is retried, so a deletion
never succeeds unrecorded.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import zipfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from adpulse.server.domain.audit import AuditEvent
from adpulse.server.domain.operations import Progress
from adpulse.server.ports import DataVersions, FileArea, Rollups, TenantFacts, TenantRows, TenantSettingsStore
from adpulse.server.usecases.jobs.runner import JobContext

# The audit log is append-only and records the deletion itself; keys are access, not data
# (an operator revokes them), and the caller's key must outlive the call that deletes. The data
# version only ever grows: result caches key by it, and a version counted again from 0 could
# meet an entry cached before the deletion.
KEPT_TABLES = frozenset({"audit_events", "api_keys", "tenant_data_versions"})
ARCHIVE_SUFFIX = ".zip"
DELETE_ACTION = "job/delete_tenant_data"
_CHUNK_BYTES = 1 << 20


class ExportTenantDataJob:
    def __init__(
        self, rows: TenantRows, facts: TenantFacts, files: FileArea, now: Callable[[], dt.datetime]
    ) -> None:
        self._rows = rows
        self._facts = facts
        self._files = files
        self._now = now

    def run(self, ctx: JobContext) -> Mapping[str, Any] | None:
        operation = ctx.operation
        tenant = operation.tenant
        self._files.require_room(tenant)
        target = self._files.export_path(tenant, operation.op_id, ARCHIVE_SUFFIX)
        partial = target.with_name(target.name + ".part")
        partial.unlink(missing_ok=True)  # what a worker that died here left
        entries: list[dict[str, Any]] = []
        fact_tables, row_tables = self._facts.tables(), self._rows.tables()
        total = len(fact_tables) + len(row_tables)
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as out, zipfile.ZipFile(out, "w", allowZip64=True) as archive:
            for table in fact_tables:
                entries.append(self._parquet(archive, partial, tenant, table))
                self._report(ctx, entries, total)
            for table in row_tables:
                entries.append(self._json_lines(archive, tenant, table))
                self._report(ctx, entries, total)
            manifest = {
                "tenant": tenant,
                "exported_at": self._now().isoformat(),
                "operation": operation.name,
                "entries": entries,
                "notes": "facts as stored: money and conversions in integer millionths (*_micros)",
            }
            archive.writestr("manifest.json", json.dumps(manifest, indent=2), zipfile.ZIP_DEFLATED)
        os.replace(partial, target)
        digest = hashlib.sha256()
        with target.open("rb") as f:
            while block := f.read(_CHUNK_BYTES):
                digest.update(block)
        return {
            "entries": entries,
            "size_bytes": target.stat().st_size,
            "sha256": digest.hexdigest(),
            "file_name": f"tenant-{tenant}-{operation.op_id.removeprefix('op-')[:12]}{ARCHIVE_SUFFIX}",
        }

    def _report(self, ctx: JobContext, entries: list[dict[str, Any]], total: int) -> None:
        rows = sum(e["rows"] for e in entries)
        ctx.report(Progress(100.0 * len(entries) / total, rows, 0, f"wrote {entries[-1]['path']}"), {})

    def _parquet(self, archive: zipfile.ZipFile, partial: Path, tenant: str, table: str) -> dict[str, Any]:
        """A table into a Parquet file beside the archive (Parquet needs a seekable file), then
        into the archive; memory holds one Arrow batch."""
        scratch = partial.with_name(f"{partial.name}.{table}.parquet")
        path, rows, writer = f"clickhouse/{table}.parquet", 0, None
        try:
            for batch in self._facts.batches(table, tenant):
                if writer is None:
                    writer = pq.ParquetWriter(scratch, batch.schema)
                writer.write_batch(batch)
                rows += batch.num_rows
            if writer is not None:
                writer.close()
            archive.write(scratch, path, zipfile.ZIP_STORED)
        finally:
            scratch.unlink(missing_ok=True)
        return {"path": path, "rows": rows}

    def _json_lines(self, archive: zipfile.ZipFile, tenant: str, table: str) -> dict[str, Any]:
        path, rows = f"postgres/{table}.jsonl", 0
        info = zipfile.ZipInfo(path, self._now().timetuple()[:6])
        info.compress_type = zipfile.ZIP_DEFLATED
        with archive.open(info, "w", force_zip64=True) as out:
            for row in self._rows.rows(table, tenant):
                out.write(row.encode() + b"\n")
                rows += 1
        return {"path": path, "rows": rows}


class DeleteTenantDataJob:
    def __init__(
        self,
        rows: TenantRows,
        facts: TenantFacts,
        files: FileArea,
        versions: DataVersions,
        audit: Callable[[AuditEvent], None],
    ) -> None:
        self._rows = rows
        self._facts = facts
        self._files = files
        self._versions = versions
        self._audit = audit

    def run(self, ctx: JobContext) -> Mapping[str, Any] | None:
        operation = ctx.operation
        tenant, keep = operation.tenant, operation.op_id
        deleted: dict[str, int] = dict(operation.checkpoint.get("deleted", {}))
        stores = self._stores()
        for index, store in enumerate(stores):
            if store in deleted:
                continue  # done by an earlier slice
            area, table = store.split("/", 1)
            deleted[store] = (
                self._facts.delete(table, tenant)
                if area == "clickhouse"
                else self._rows.delete(table, tenant, keep)
            )
            ctx.report(
                Progress(
                    90.0 * (index + 1) / (len(stores) + 1), sum(deleted.values()), 0, f"deleted {store}"
                ),
                {"deleted": deleted},
            )
        if "files/imports" not in deleted:
            deleted.update({f"files/{area}": n for area, n in self._files.delete_files(tenant).items()})
        self._versions.bump(tenant)  # what any server cached of the tenant is unreachable now
        remaining = self._remaining(tenant, keep, stores)
        self._audit(
            AuditEvent(
                action=DELETE_ACTION,
                outcome="OK",
                tenant=tenant,
                key_id=str(operation.params.get("key_id", "")),
                target=operation.name,
            )
        )
        ctx.progress = Progress(100.0, sum(deleted.values()), sum(deleted.values()), "done")
        return {
            "tenant": tenant,
            "counts": [[store, deleted.get(store, 0), remaining[store]] for store in remaining],
        }

    def _stores(self) -> list[str]:
        return [f"clickhouse/{t}" for t in self._facts.tables()] + [
            f"postgres/{t}" for t in self._rows.tables() if t not in KEPT_TABLES
        ]

    def _remaining(self, tenant: str, keep: str, stores: list[str]) -> dict[str, int]:
        """What is left of the tenant in every store: counted anew, after the deletion."""
        remaining = {}
        for store in stores:
            area, table = store.split("/", 1)
            remaining[store] = (
                self._facts.count(table, tenant)
                if area == "clickhouse"
                else self._rows.count(table, tenant, keep)
            )
        remaining.update({f"files/{area}": n for area, n in self._files.count_files(tenant).items()})
        return remaining


class RetentionSweep:
    """The daily scan's clean-up: facts older than the tenant's `retention_days` with their
    rollups, uploads and exports older than `file_days`. Idempotent, like every step of the scan."""

    def __init__(  # noqa: PLR0917 - the stores it cleans, its bound and its clock
        self,
        facts: TenantFacts,
        rollups: Rollups,
        settings: TenantSettingsStore,
        versions: DataVersions,
        files: FileArea,
        file_days: int,
        now: Callable[[], dt.datetime],
    ) -> None:
        self._facts = facts
        self._rollups = rollups
        self._settings = settings
        self._versions = versions
        self._files = files
        self._file_days = file_days
        self._now = now

    def run(self, tenant: str, scan_date: dt.date) -> list[dict[str, Any]]:
        """StepResults (as JSON) of the fact retention and the file expiry."""
        days = self._settings.retention_days(tenant)
        if days:
            before = scan_date - dt.timedelta(days=days)
            deleted = self._facts.delete_older(tenant, before)
            if deleted:
                # The month the bound falls in lost days: its monthly rollup is summed again.
                last = before - dt.timedelta(days=1)
                self._rollups.rebuild(tenant, last.replace(day=1), last)
                self._versions.bump(tenant)
            summary = f"deleted {deleted} facts dated before {before} (retention {days} days)"
        else:
            deleted, summary = 0, "no retention set: facts are kept"
        removed = self._files.expire(tenant, self._now() - dt.timedelta(days=self._file_days))
        files = ", ".join(f"{n} {area}" for area, n in removed.items())
        return [
            {"step": "fact_retention", "days": days, "rows": deleted, "summary": summary},
            {
                "step": "file_expiry",
                "days": self._file_days,
                "rows": sum(removed.values()),
                "summary": f"removed {files} older than {self._file_days} days",
            },
        ]
