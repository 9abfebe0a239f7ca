"""`adpulse`: serve, ingest files, query KPIs, and the analytics (trends, anomalies, explain,
insights, budget, demo-data).

Exit codes: 0 success; 1 a call failed; 2 `ingest` finished but rejected some rows.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from adpulse.cli import analytics
from adpulse.cli.plot import PlotUnavailable
from adpulse.cli.render import table, to_json
from adpulse.client import AdpulseClient, AdpulseError, IngestReport, MetricsRecord
from adpulse.client.client import DEFAULT_TARGET, DIMENSIONS, GRANULARITIES
from adpulse.client.files import DEFAULT_BATCH_BYTES
from adpulse.client.metrics import KPIS, columns_for

MEASURES = ("impressions", "clicks", "cost", "conversions", "revenue")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="adpulse", description="Marketing analytics over gRPC.")
    parser.add_argument(
        "--target",
        default=os.environ.get("ADPULSE_TARGET", DEFAULT_TARGET),
        help="server address (ADPULSE_TARGET)",
    )
    parser.add_argument("--tenant", default=os.environ.get("ADPULSE_TENANT"), help="tenant (ADPULSE_TENANT)")
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run the server (settings from ADPULSE_* variables)")
    serve.add_argument("--listen", help="address to listen on (ADPULSE_LISTEN, default 127.0.0.1:50051)")
    serve.add_argument(
        "--data-dir", help="where embedded stores keep data (ADPULSE_DATA_DIR, default ./.adpulse)"
    )

    ingest = commands.add_parser("ingest", help="stream CSV or NDJSON files (.gz too) into the service")
    ingest.add_argument("files", nargs="+", type=Path, metavar="FILE")
    ingest.add_argument("--source", default="generic", help="column layout of the files (default generic)")
    ingest.add_argument(
        "--all-or-nothing", action="store_true", help="store nothing of a batch with a bad row"
    )
    ingest.add_argument("--batch-bytes", type=int, default=DEFAULT_BATCH_BYTES, help="approximate batch size")
    ingest.add_argument("--json", action="store_true", help="print one JSON object")

    kpis = commands.add_parser("kpis", help="sums and KPIs grouped by dimensions")
    kpis.add_argument(
        "--by", nargs="*", default=[], choices=sorted(DIMENSIONS), metavar="DIM", help="group by"
    )
    kpis.add_argument("--from", dest="start", default="", metavar="DATE", help="first date, YYYY-MM-DD")
    kpis.add_argument("--to", dest="end", default="", metavar="DATE", help="last date, YYYY-MM-DD")
    kpis.add_argument("--granularity", default="day", choices=sorted(GRANULARITIES), help="date bucket size")
    kpis.add_argument(
        "--filter",
        action="append",
        default=[],
        metavar="DIM=V1,V2",
        help="keep only these values (repeatable)",
    )
    kpis.add_argument("--exclude", action="append", default=[], metavar="DIM=V1,V2", help="drop these values")
    kpis.add_argument("--order-by", default="", help="e.g. 'cost desc, campaign'")
    kpis.add_argument("--limit", type=int, help="at most this many rows")
    kpis.add_argument("--json", action="store_true", help="print one JSON object")
    analytics.add_commands(commands, _common)
    return parser


def _common(command: argparse.ArgumentParser) -> None:
    command.add_argument("--from", dest="start", default="", metavar="DATE", help="first date, YYYY-MM-DD")
    command.add_argument("--to", dest="end", default="", metavar="DATE", help="last date, YYYY-MM-DD")
    command.add_argument(
        "--filter",
        action="append",
        default=[],
        metavar="DIM=V1,V2",
        help="keep only these values (repeatable)",
    )
    command.add_argument("--json", action="store_true", help="print one JSON object")


def _filters(specs: Sequence[str]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for spec in specs:
        dim, sep, values = spec.partition("=")
        if not sep or dim not in DIMENSIONS or not values:
            raise SystemExit(
                f"adpulse: bad filter {spec!r}; expected DIM=V1,V2 with DIM one of {sorted(DIMENSIONS)}"
            )
        out.setdefault(dim, []).extend(v for v in values.split(",") if v)
    return out


def _serve(args: argparse.Namespace) -> int:
    try:
        from adpulse.server.main import serve
        from adpulse.server.settings import Settings, SettingsError
    except ImportError:
        print(
            "adpulse: the server is not installed here (it ships in the `adpulse` package)", file=sys.stderr
        )
        return 1
    if args.listen:
        os.environ["ADPULSE_LISTEN"] = args.listen
    if args.data_dir:
        os.environ["ADPULSE_DATA_DIR"] = args.data_dir
    try:
        settings = Settings.from_env()
    except SettingsError as err:
        print(f"adpulse: {err}", file=sys.stderr)
        return 1
    return serve(settings)


def _ingest(client: AdpulseClient, args: argparse.Namespace) -> int:
    progress = sys.stderr.isatty() and not args.json

    def show(report: IngestReport) -> None:
        print(f"\r{report.accepted:,} accepted, {report.rejected:,} rejected", end="", file=sys.stderr)

    report = client.ingest_files(
        args.files,
        source=args.source,
        all_or_nothing=args.all_or_nothing,
        batch_bytes=args.batch_bytes,
        on_ack=show if progress else None,
    )
    if progress:
        print(file=sys.stderr)
    several = len(args.files) > 1
    if args.json:
        errors = [
            {**({"file": e.file} if several else {}), "line": e.line, "field": e.field, "reason": e.reason}
            for e in report.errors
        ]
        document = {
            "accepted": report.accepted,
            "rejected": report.rejected,
            "duplicates": report.duplicates,
            "errors": errors,
        }
        if report.errors_truncated:
            document["errors_truncated"] = True
        if report.ignored_columns:
            document["ignored_columns"] = sorted(report.ignored_columns)
        print(to_json(document))
    else:
        print(f"accepted {report.accepted:,}, rejected {report.rejected:,}, duplicates {report.duplicates:,}")
        if report.ignored_columns:
            print(f"ignored columns: {', '.join(sorted(report.ignored_columns))}")
        if report.errors:
            rows = [[*([e.file] if several else []), e.line, e.field, e.reason] for e in report.errors]
            print(table([*(["file"] if several else []), "line", "field", "reason"], rows))
            if report.errors_truncated:
                print("(more errors than listed)")
    return 2 if report.rejected else 0


def _kpis(client: AdpulseClient, args: argparse.Namespace) -> int:
    result = client.query_metrics(
        start=args.start,
        end=args.end,
        by=args.by,
        granularity=args.granularity,
        filters=_filters(args.filter),
        exclude=_filters(args.exclude),
        order_by=args.order_by,
        limit=args.limit,
    )
    if args.json:
        print(to_json({"rows": [r.as_dict() for r in result.rows], "totals": result.totals.as_dict()}))
        return 0
    dims = columns_for(args.by)
    headers = [*dims, "currency", *MEASURES, *KPIS]

    def cells(record: MetricsRecord) -> list[object]:
        values = record.as_dict()
        return [values.get(h) for h in headers]

    body = [cells(r) for r in result.rows]
    if dims:
        body.append(["total", *cells(result.totals)[1:]])
    print(table(headers, body))
    return 0


def run(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "serve":
        return _serve(args)
    try:
        with AdpulseClient(args.target, tenant=args.tenant) as client:
            if args.command in analytics.COMMANDS:
                return analytics.run(client, args, _filters(getattr(args, "filter", [])))
            return _ingest(client, args) if args.command == "ingest" else _kpis(client, args)
    except PlotUnavailable as err:
        return analytics.fail(str(err))
    except AdpulseError as err:
        print(f"adpulse: {err}", file=sys.stderr)
        for violation in err.violations:
            print(f"  {violation.field}: {violation.description}", file=sys.stderr)
        return 1
    except OSError as err:
        print(f"adpulse: {err.strerror or err}: {err.filename or ''}".rstrip(": "), file=sys.stderr)
        return 1


def main() -> None:
    sys.exit(run())
