"""`adpulse runs`, `stats`, `fx load`, `settings`: looking after ingestion and currencies."""

from __future__ import annotations

import argparse
import csv
from pathlib import Path
from typing import Any

from adpulse.cli.render import Percent, message_json, table, to_json
from adpulse.client import AdpulseClient
from adpulse.v1 import ingestion_run_pb2 as rpb

FX_HEADER = ["date", "base_currency", "quote_currency", "rate"]


def register(commands: Any) -> None:
    runs = commands.add_parser("runs", help="ingestion runs, newest first (or one run in full)")
    runs.add_argument("run_id", nargs="?", help="show this run")
    runs.add_argument("--source", default="", help="only runs of this source")
    runs.add_argument("--limit", type=int, default=20, help="at most this many runs (default 20)")
    runs.add_argument("--json", action="store_true", help="print JSON")
    runs.set_defaults(run=run_runs, needs_client=True)

    stats = commands.add_parser("stats", help="ingestion health per source, freshness per platform")
    stats.add_argument("--window-days", type=int, default=30, help="days the run counts cover (default 30)")
    stats.add_argument("--json", action="store_true", help="print JSON")
    stats.set_defaults(run=run_stats, needs_client=True)

    fx = commands.add_parser("fx", help="exchange rates")
    fx_commands = fx.add_subparsers(dest="fx_command", required=True)
    load = fx_commands.add_parser("load", help=f"upsert rates from a CSV with columns {','.join(FX_HEADER)}")
    load.add_argument("file", type=Path)
    load.set_defaults(run=run_fx_load, needs_client=True)

    settings = commands.add_parser("settings", help="show or change the tenant's settings")
    settings.add_argument(
        "--reporting-currency", help="report money in this currency ('' for each row's own)"
    )
    settings.add_argument(
        "--retention-days", type=int, help="the daily scan deletes facts older than this (0: keep for ever)"
    )
    settings.set_defaults(run=run_settings, needs_client=True)


def run_runs(client: AdpulseClient, args: argparse.Namespace) -> int:
    if args.run_id:
        run = client.run(args.run_id)
        print(
            to_json(message_json(run))
            if args.json
            else "\n".join(f"{k}: {v}" for k, v in message_json(run).items())
        )
        return 0
    page = client.runs(source=args.source, limit=args.limit)
    if args.json:
        print(to_json({"runs": [message_json(r) for r in page.runs]}))
        return 0
    headers = [
        "run_id",
        "source",
        "state",
        "started",
        "batches",
        "accepted",
        "rejected",
        "duplicates",
        "newest",
    ]
    rows = [
        [
            r.run_id,
            r.source,
            rpb.RunState.Name(r.state).removeprefix("RUN_STATE_").lower(),
            r.start_time.ToDatetime().strftime("%Y-%m-%d %H:%M:%S"),
            r.batches,
            r.rows_accepted,
            r.rows_rejected,
            r.rows_duplicate,
            r.newest_data_date,
        ]
        for r in page.runs
    ]
    print(table(headers, rows))
    return 0


def run_stats(client: AdpulseClient, args: argparse.Namespace) -> int:
    stats = client.ingestion_stats(args.window_days)
    if args.json:
        print(to_json(message_json(stats)))
        return 0
    sources = [
        [
            s.source,
            s.runs,
            s.failed_runs,
            Percent(s.failure_rate.value) if s.HasField("failure_rate") else None,
            s.rows_accepted,
            s.rows_rejected,
            s.last_success_time.ToDatetime().strftime("%Y-%m-%d %H:%M")
            if s.HasField("last_success_time")
            else "",
            s.newest_data_date,
        ]
        for s in stats.sources
    ]
    print(
        table(
            ["source", "runs", "failed", "failure_rate", "accepted", "rejected", "last_success", "newest"],
            sources,
        )
    )
    print()
    platforms = [
        [
            p.platform,
            p.rows,
            p.newest_data_date,
            p.restatement_days,
            f"{p.provisional_from}..{p.newest_data_date}",
        ]
        for p in stats.platforms
    ]
    print(table(["platform", "rows", "newest", "restates_days", "provisional"], platforms))
    return 0


def run_fx_load(client: AdpulseClient, args: argparse.Namespace) -> int:
    with args.file.open(newline="") as f:
        reader = csv.DictReader(f)
        missing = set(FX_HEADER) - set(reader.fieldnames or ())
        if missing:
            raise SystemExit(f"adpulse: {args.file} lacks columns {', '.join(sorted(missing))}")
        rates = [(r["date"], r["base_currency"], r["quote_currency"], r["rate"]) for r in reader]
    print(f"upserted {client.upsert_fx_rates(rates):,} rates")
    return 0


def run_settings(client: AdpulseClient, args: argparse.Namespace) -> int:
    if args.reporting_currency is not None or args.retention_days is not None:
        currency = args.reporting_currency.upper() if args.reporting_currency is not None else None
        settings = client.update_tenant_settings(
            reporting_currency=currency, retention_days=args.retention_days
        )
    else:
        settings = client.tenant_settings()
    print(f"reporting_currency: {settings.reporting_currency or '(each row in its own currency)'}")
    print(f"retention_days: {settings.retention_days or '(facts kept for ever)'}")
    return 0
