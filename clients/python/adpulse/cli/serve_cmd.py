"""`adpulse serve`, `worker` and `ddl`: run the server or a worker, print its ClickHouse schema
(they ship in the `adpulse` package, not the client)."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any


def register(commands: Any) -> None:
    serve = commands.add_parser("serve", help="run the server (settings from ADPULSE_* variables)")
    serve.add_argument("--listen", help="address to listen on (ADPULSE_LISTEN, default 127.0.0.1:50051)")
    serve.add_argument(
        "--data-dir", help="where embedded stores keep data (ADPULSE_DATA_DIR, default ./.adpulse)"
    )
    serve.set_defaults(run=run, needs_client=False)
    worker = commands.add_parser(
        "worker",
        help="run a job worker of the deployed shape (needs ADPULSE_BROKER_URL, ADPULSE_POSTGRES_DSN)",
    )
    worker.add_argument(
        "--concurrency", type=int, default=0, help="tasks at a time (default ADPULSE_WORKER_CONCURRENCY)"
    )
    worker.add_argument("--beat", action="store_true", help="also schedule the daily scans (Celery beat)")
    worker.set_defaults(run=run_worker, needs_client=False)
    ddl = commands.add_parser(
        "ddl", help="print the ClickHouse schema the server applies (for a cluster: Replicated + Distributed)"
    )
    ddl.add_argument(
        "--cluster",
        default=os.environ.get("ADPULSE_CLICKHOUSE_CLUSTER", ""),
        help="cluster name in the nodes' remote_servers (ADPULSE_CLICKHOUSE_CLUSTER; default: one node)",
    )
    ddl.set_defaults(run=run_ddl, needs_client=False)


def _not_installed() -> int:
    print("adpulse: the server is not installed here (it ships in the `adpulse` package)", file=sys.stderr)
    return 1


def run_worker(args: argparse.Namespace) -> int:
    try:
        from adpulse.server.settings import Settings, SettingsError
        from adpulse.server.worker_main import work
    except ImportError:
        return _not_installed()
    try:
        settings = Settings.from_env()
    except SettingsError as err:
        print(f"adpulse: {err}", file=sys.stderr)
        return 1
    return work(settings, args.concurrency or settings.worker_concurrency, args.beat)


def run_ddl(args: argparse.Namespace) -> int:
    try:
        from adpulse.server.storage.clickhouse_schema import ClickHouseSchema
    except ImportError:
        return _not_installed()
    try:
        schema = ClickHouseSchema(args.cluster)
    except ValueError as err:
        print(f"adpulse: {err}", file=sys.stderr)
        return 1
    for statement in schema.ddl():
        print(f"{statement};\n")
    return 0


def run(args: argparse.Namespace) -> int:
    try:
        from adpulse.server.main import serve
        from adpulse.server.settings import Settings, SettingsError
    except ImportError:
        return _not_installed()
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
