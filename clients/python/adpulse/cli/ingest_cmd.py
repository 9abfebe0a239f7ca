"""`adpulse ingest FILE…`: stream files into the service, with progress on a terminal."""

from __future__ import annotations

import argparse
import hashlib
import sys
import time
from pathlib import Path
from typing import Any

from adpulse.cli.render import key_values, table, to_json
from adpulse.client import AdpulseClient, FileRowError, IngestReport, StreamOptions
from adpulse.files import DEFAULT_BATCH_BYTES


def register(commands: Any) -> None:
    ingest = commands.add_parser(
        "ingest", help="stream CSV, NDJSON (.gz too), Parquet or Arrow IPC files into the service"
    )
    ingest.add_argument("files", nargs="+", type=Path, metavar="FILE")
    ingest.add_argument(
        "--source",
        default="generic",
        help="column layout: generic, google_ads, meta_ads, tiktok_ads, linkedin_ads (default generic)",
    )
    ingest.add_argument(
        "--option", action="append", default=[], metavar="KEY=VALUE", help="a source option (repeatable)"
    )
    ingest.add_argument(
        "--all-or-nothing", action="store_true", help="store nothing of a batch with a bad row"
    )
    ingest.add_argument(
        "--reject-clicks-over-impressions", action="store_true", help="reject such rows instead of warning"
    )
    ingest.add_argument(
        "--fail-on-drift", action="store_true", help="refuse batches with unknown or missing columns"
    )
    ingest.add_argument(
        "--stream-id", default="", help="name the stream (default with --resume: from the paths)"
    )
    ingest.add_argument("--resume", action="store_true", help="skip batches the stream already committed")
    ingest.add_argument("--gzip", action="store_true", help="compress batches on the wire")
    ingest.add_argument("--batch-bytes", type=int, default=DEFAULT_BATCH_BYTES, help="approximate batch size")
    ingest.add_argument("--json", action="store_true", help="print one JSON object")
    ingest.set_defaults(run=run, needs_client=True)


def _stream_id(args: argparse.Namespace) -> str:
    if args.stream_id or not args.resume:
        return str(args.stream_id)
    # The same files (by absolute path) and source resume the same stream.
    identity = "\0".join([args.source, *(str(p.resolve()) for p in args.files)])
    return f"files-{hashlib.sha256(identity.encode()).hexdigest()[:24]}"


class _Progress:
    """One self-rewriting line on a terminal: rows, rows/s, rejected so far."""

    def __init__(self) -> None:
        self._start = time.monotonic()

    def __call__(self, report: IngestReport) -> None:
        rows = report.accepted + report.rejected + report.duplicates
        rate = rows / max(time.monotonic() - self._start, 1e-9)
        print(
            f"\r{rows:,} rows  {rate:,.0f} rows/s  {report.rejected:,} rejected  "
            f"{report.bytes_sent / 1e6:,.1f} MB sent",
            end="",
            file=sys.stderr,
            flush=True,
        )


def run(client: AdpulseClient, args: argparse.Namespace) -> int:
    options = StreamOptions(
        source=args.source,
        all_or_nothing=args.all_or_nothing,
        stream_id=_stream_id(args),
        source_options=key_values(args.option, "--option"),
        reject_clicks_over_impressions=args.reject_clicks_over_impressions,
        fail_on_drift=args.fail_on_drift,
    )
    progress = sys.stderr.isatty() and not args.json
    report = client.ingest_files(
        args.files,
        options,
        resume=args.resume,
        compress=args.gzip,
        batch_bytes=args.batch_bytes,
        on_ack=_Progress() if progress else None,
    )
    if progress:
        print(file=sys.stderr)
    several = len(args.files) > 1
    if args.json:
        print(to_json(_document(report, several)))
    else:
        _print(report, several)
    return 2 if report.rejected else 0


def _rows(errors: list[FileRowError], several: bool) -> list[dict[str, Any]]:
    return [
        {**({"file": e.file} if several else {}), "line": e.line, "field": e.field, "reason": e.reason}
        for e in errors
    ]


def _document(report: IngestReport, several: bool) -> dict[str, Any]:
    document: dict[str, Any] = {
        "accepted": report.accepted,
        "rejected": report.rejected,
        "duplicates": report.duplicates,
        "errors": _rows(report.errors, several),
    }
    extras = {
        "errors_truncated": report.errors_truncated,
        "warnings": _rows(report.warnings, several),
        "ignored_columns": sorted(report.ignored_columns),
        "missing_columns": sorted(report.missing_columns),
        "skipped_batches": report.skipped_batches,
    }
    # The four documented keys always; the rest only when there is something to say.
    document.update({k: v for k, v in extras.items() if v})
    return document


def _print(report: IngestReport, several: bool) -> None:
    print(
        f"rows: {report.accepted:,} new, {report.duplicates:,} duplicate (stored before),"
        f" {report.rejected:,} rejected"
    )
    if report.skipped_batches:
        print(f"resumed: skipped {report.skipped_batches} batches committed before")
    for label, columns in (
        ("ignored columns", report.ignored_columns),
        ("missing columns", report.missing_columns),
    ):
        if columns:
            print(f"{label}: {', '.join(sorted(columns))}")
    for label, errors in (("", report.errors), ("warnings:", report.warnings)):
        if errors:
            if label:
                print(label)
            rows = [[*([e.file] if several else []), e.line, e.field, e.reason] for e in errors]
            print(table([*(["file"] if several else []), "line", "field", "reason"], rows))
    if report.errors_truncated:
        print("(more errors than listed)")
    print(f"run {report.run_id}")
