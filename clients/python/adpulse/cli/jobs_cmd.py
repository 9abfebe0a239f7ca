"""`adpulse import`, `adpulse export` and `adpulse ops`: long-running operations.

`import` and `export` start an operation and follow it to the end with a progress bar on a
terminal. Ctrl-C while following asks whether to cancel the operation; the operation itself
runs on the server, so leaving the CLI does not stop it.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from adpulse.cli.query_cmd import add_by, parse_filters
from adpulse.cli.render import Percent, key_values, message_json, table, to_json
from adpulse.client import AdpulseClient, Operation
from adpulse.client.analytics_calls import DIMENSIONS, GRANULARITIES, lookup
from adpulse.v1 import analytics_service_pb2 as apb
from adpulse.v1 import ingest_service_pb2 as ipb
from adpulse.v1 import operation_pb2 as opb

_FORMATS = {"parquet": opb.EXPORT_FORMAT_PARQUET, "csv": opb.EXPORT_FORMAT_CSV}
POLL_SECONDS = 0.5


def register(commands: Any) -> None:
    imp = commands.add_parser("import", help="import a big CSV or NDJSON file (.gz too) as a server-side job")
    imp.add_argument("file", metavar="FILE", help="local file (uploaded first), or a path on the server")
    imp.add_argument(
        "--server-path", action="store_true", help="FILE is a path in the server's import directory"
    )
    imp.add_argument("--source", default="generic", help="column layout (default generic)")
    imp.add_argument("--option", action="append", default=[], metavar="KEY=VALUE", help="a source option")
    imp.add_argument("--all-or-nothing", action="store_true", help="fail on the first chunk with a bad row")
    imp.add_argument("--reject-clicks-over-impressions", action="store_true", help="reject such rows")
    imp.add_argument("--fail-on-drift", action="store_true", help="fail on unknown or missing columns")
    imp.add_argument("--chunk-bytes", type=int, default=0, help="chunk size (default 4 MiB)")
    imp.add_argument("--no-wait", action="store_true", help="print the operation's name and return")
    imp.add_argument("--json", action="store_true", help="print one JSON object")
    imp.set_defaults(run=run_import, needs_client=True)

    exp = commands.add_parser("export", help="write the groups of a metrics query to a Parquet or CSV file")
    exp.add_argument("--format", choices=sorted(_FORMATS), default="parquet", help="file format")
    exp.add_argument("--output", "-o", help="file to write (default: the server's file name); - for stdout")
    add_by(exp, DIMENSIONS)
    exp.add_argument("--from", dest="start", default="", metavar="DATE", help="first date, YYYY-MM-DD")
    exp.add_argument("--to", dest="end", default="", metavar="DATE", help="last date, YYYY-MM-DD")
    exp.add_argument("--granularity", default="day", choices=sorted(GRANULARITIES), help="date bucket size")
    exp.add_argument("--filter", action="append", default=[], metavar="DIM=V1,V2", help="keep only these")
    exp.add_argument("--exclude", action="append", default=[], metavar="DIM=V1,V2", help="drop these")
    exp.add_argument("--currency", default="", help="report money in this currency (needs FX rates)")
    exp.set_defaults(run=run_export, needs_client=True)

    ops = commands.add_parser("ops", help="long-running operations: list, get, cancel, wait")
    actions = ops.add_subparsers(dest="action", required=True)
    listing = actions.add_parser("list", help="operations, newest first")
    listing.add_argument("--filter", default="", help="e.g. 'kind = import_file AND done = false'")
    listing.add_argument("--limit", type=int, default=50, help="at most this many")
    listing.add_argument("--json", action="store_true", help="print one JSON object")
    for action, text in (("get", "one operation"), ("cancel", "ask a running operation to stop")):
        sub = actions.add_parser(action, help=text)
        sub.add_argument("name", help="operations/op-… (or just op-…)")
        sub.add_argument("--json", action="store_true", help="print one JSON object")
    wait = actions.add_parser("wait", help="wait until an operation is done")
    wait.add_argument("name", help="operations/op-… (or just op-…)")
    wait.add_argument("--timeout", type=float, default=600, help="give up after this many seconds")
    wait.add_argument("--json", action="store_true", help="print one JSON object")
    ops.set_defaults(run=run_ops, needs_client=True)


def _name(text: str) -> str:
    return text if text.startswith("operations/") else f"operations/{text}"


def run_import(client: AdpulseClient, args: argparse.Namespace) -> int:
    path = args.file
    if not args.server_path:
        if sys.stderr.isatty() and not args.json:
            print(f"uploading {path} …", file=sys.stderr, flush=True)
        path = client.upload_file(path).path
    request = ipb.ImportFileRequest(
        path=path,
        source=args.source,
        source_options=key_values(args.option, "--option"),
        reject_policy=ipb.REJECT_POLICY_ALL_OR_NOTHING
        if args.all_or_nothing
        else ipb.REJECT_POLICY_KEEP_GOOD_ROWS,
        clicks_over_impressions=(
            ipb.CLICKS_POLICY_REJECT if args.reject_clicks_over_impressions else ipb.CLICKS_POLICY_WARN
        ),
        drift_policy=ipb.DRIFT_POLICY_FAIL if args.fail_on_drift else ipb.DRIFT_POLICY_REPORT,
        chunk_bytes=args.chunk_bytes,
    )
    operation = client.import_file(request)
    if args.no_wait:
        print(operation.name)
        return 0
    done = _follow(client, operation, show=sys.stderr.isatty() and not args.json)
    if done is None:
        return 130
    if done.error is not None:
        return _failed(done, args.json)
    r = done.response
    errors = [{"line": e.line, "field": e.field, "reason": e.reason} for e in r.errors]
    if args.json:
        print(
            to_json(
                {
                    "operation": done.name,
                    "accepted": r.rows_accepted,
                    "rejected": r.rows_rejected,
                    "duplicates": r.rows_duplicate,
                    "errors": errors,
                    "chunks": r.chunks,
                }
            )
        )
    else:
        print(f"accepted {r.rows_accepted:,}, rejected {r.rows_rejected:,}, duplicates {r.rows_duplicate:,}")
        if errors:
            print(table(["line", "field", "reason"], [list(e.values()) for e in errors]))
        if r.errors_truncated:
            print("(more errors than listed)")
        print(f"{done.name} ({r.chunks} chunks, run {r.run_id})")
    return 2 if r.rows_rejected else 0


def run_export(client: AdpulseClient, args: argparse.Namespace) -> int:
    request = apb.ExportMetricsRequest(
        start_date=args.start,
        end_date=args.end,
        dimensions=[lookup(DIMENSIONS, d, "dimension") for d in args.by],
        granularity=GRANULARITIES[args.granularity],
        filters=[
            apb.DimensionFilter(dimension=lookup(DIMENSIONS, d, "dimension"), values=values, exclude=excluded)
            for excluded, specs in ((False, args.filter), (True, args.exclude))
            for d, values in parse_filters(specs).items()
        ],
        reporting_currency=args.currency,
        format=_FORMATS[args.format],
    )
    done = _follow(client, client.export_metrics(request), show=sys.stderr.isatty() and args.output != "-")
    if done is None:
        return 130
    if done.error is not None:
        return _failed(done, False)
    r = done.response
    digest = hashlib.sha256()
    if args.output == "-":
        for piece in client.download_export(done.name):
            digest.update(piece)
            sys.stdout.buffer.write(piece)
        sys.stdout.buffer.flush()
    else:
        digest = save(client.download_export(done.name), Path(args.output or r.file_name))
    if not checked(digest, r.sha256):
        return 1
    if args.output != "-":
        print(f"wrote {r.rows:,} rows ({r.size_bytes:,} bytes) to {args.output or r.file_name}")
    return 0


def save(pieces: Iterator[bytes], target: Path) -> Any:
    """Writes a download beside `target`, renamed when complete; its SHA-256."""
    digest = hashlib.sha256()
    partial = target.with_name(target.name + ".part")
    with partial.open("wb") as out:
        for piece in pieces:
            digest.update(piece)
            out.write(piece)
    partial.replace(target)
    return digest


def checked(digest: Any, expected: str) -> bool:
    """Whether a download is what the server wrote; says so on stderr if not."""
    if digest.hexdigest() == expected:
        return True
    print("adpulse: the download does not match the export's checksum; run the export again", file=sys.stderr)
    return False


def run_ops(client: AdpulseClient, args: argparse.Namespace) -> int:
    if args.action == "list":
        found: list[Operation] = []
        token = ""
        while len(found) < args.limit:
            page, token = client.operations(
                filter=args.filter, page_size=min(args.limit, 1000), page_token=token
            )
            found += page
            if not token:
                break
        found = found[: args.limit]
        if args.json:
            print(to_json({"operations": [_summary(o) for o in found]}))
        else:
            rows = [
                [o.name, o.kind, o.state, Percent(o.metadata.progress_percent / 100), o.metadata.current_step]
                for o in found
            ]
            print(table(["name", "kind", "state", "percent", "step"], rows))
        return 0
    name = _name(args.name)
    if args.action == "cancel":
        client.cancel_operation(name)
    operation = client.wait_operation(name, args.timeout) if args.action == "wait" else client.operation(name)
    if args.json:
        print(to_json(_summary(operation)))
    else:
        for key, value in _summary(operation).items():
            print(f"{key}: {value}")
    return 1 if operation.error is not None and args.action == "wait" else 0


def _summary(o: Operation) -> dict[str, Any]:
    m = o.metadata
    out: dict[str, Any] = {
        "name": o.name,
        "kind": o.kind,
        "state": o.state,
        "done": o.done,
        "percent": round(m.progress_percent, 1),
        "rows_done": m.rows_done,
        "step": m.current_step,
        "created": m.create_time.ToJsonString(),
        "updated": m.update_time.ToJsonString(),
    }
    if m.HasField("end_time"):
        out["finished"] = m.end_time.ToJsonString()
    if m.recoveries:
        out["recoveries"] = m.recoveries
    if o.error is not None:
        out["error"] = {"code": o.error.code, "message": o.error.message, "reason": o.error.reason}
    if o.response is not None:
        out["response"] = message_json(o.response)
    return out


def _follow(client: AdpulseClient, operation: Operation, *, show: bool) -> Operation | None:
    """Polls the operation until it is done; on Ctrl-C offers to cancel it (None: left running)."""
    try:
        while not operation.done:
            if show:
                _bar(operation)
            time.sleep(POLL_SECONDS)
            operation = client.operation(operation.name)
    except KeyboardInterrupt:
        if show:
            print(file=sys.stderr)
        if not sys.stdin.isatty() or input(f"cancel {operation.name}? [y/N] ").strip().lower() not in {
            "y",
            "yes",
        }:
            print(
                f"{operation.name} goes on; follow it with `adpulse ops wait {operation.name}`",
                file=sys.stderr,
            )
            return None
        client.cancel_operation(operation.name)
        operation = client.wait_operation(operation.name, 600)
    if show:
        _bar(operation)
        print(file=sys.stderr)
    return operation


def _bar(operation: Operation) -> None:
    m = operation.metadata
    filled = int(m.progress_percent / 100 * 30)
    print(
        f"\r[{'#' * filled}{'.' * (30 - filled)}] {m.progress_percent:5.1f}%  {m.rows_done:,} rows  "
        f"{operation.state}: {m.current_step}".ljust(100),
        end="",
        file=sys.stderr,
        flush=True,
    )


def _failed(operation: Operation, as_json: bool) -> int:
    assert operation.error is not None
    if as_json:
        print(to_json(_summary(operation)))
    print(
        f"adpulse: {operation.name} {operation.state}: {operation.error.code}: {operation.error.message}",
        file=sys.stderr,
    )
    return 1
