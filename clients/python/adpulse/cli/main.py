"""`adpulse`: serve, ingest files, query KPIs, look after runs and currencies, run long jobs, and
the analytics (trends, anomalies, explain, insights, budget, demo-data).

Exit codes: 0 success; 1 a call failed; 2 `ingest` finished but rejected some rows.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from adpulse.cli import admin_cmd, alerts_cmd, analytics, ingest_cmd, jobs_cmd, query_cmd, serve_cmd
from adpulse.client import AdpulseClient, AdpulseError
from adpulse.client.client import DEFAULT_TARGET


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="adpulse", description="Marketing analytics over gRPC.")
    parser.add_argument(
        "--target",
        default=os.environ.get("ADPULSE_TARGET", DEFAULT_TARGET),
        help="server address (ADPULSE_TARGET)",
    )
    parser.add_argument("--tenant", default=os.environ.get("ADPULSE_TENANT"), help="tenant (ADPULSE_TENANT)")
    commands = parser.add_subparsers(dest="command", required=True)
    for module in (serve_cmd, ingest_cmd, query_cmd, analytics, admin_cmd, jobs_cmd, alerts_cmd):
        module.register(commands)
    return parser


def run(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if not args.needs_client:
        return int(args.run(args))
    try:
        with AdpulseClient(args.target, tenant=args.tenant) as client:
            return int(args.run(client, args))
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
