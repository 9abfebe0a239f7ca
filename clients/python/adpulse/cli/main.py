"""`adpulse`: serve, ingest files, query KPIs, look after runs and currencies, run long jobs, and
the analytics (trends, anomalies, explain, insights, budget, demo-data).

Exit codes: 0 success; 1 a call failed; 2 `ingest` finished but rejected some rows.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import os
import re
import sys
from collections.abc import Sequence
from pathlib import Path

from adpulse.cli import (
    access_cmd,
    admin_cmd,
    alerts_cmd,
    analytics,
    audit_cmd,
    completion_cmd,
    ingest_cmd,
    jobs_cmd,
    query_cmd,
    search_cmd,
    serve_cmd,
    tenant_cmd,
)
from adpulse.client import AdpulseClient, AdpulseError, Tls
from adpulse.client.connection import API_KEY_ENV, DEFAULT_TARGET

# Server messages name RPCs in their hints (right for grpcurl users); the CLI names its commands.
_COMMAND_FOR_RPC = {
    "UpsertFxRates": "`adpulse fx load FILE`",
    "UpdateTenantSettings": "`adpulse settings`",
    "ListIngestionRuns": "`adpulse runs`",
    "GetIngestionRun": "`adpulse runs RUN_ID`",
    "ImportFile": "`adpulse import`",
    "SetBudget": "`adpulse budget`",
}
_RPC_NAMES = re.compile(r"\b(" + "|".join(_COMMAND_FOR_RPC) + r")\b")


def _for_cli(message: str) -> str:
    return _RPC_NAMES.sub(lambda m: _COMMAND_FOR_RPC[m.group(1)], message)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="adpulse", description="Marketing analytics over gRPC.")
    parser.add_argument("--version", action="version", version=f"adpulse {_version()}")
    parser.add_argument(
        "--target",
        default=os.environ.get("ADPULSE_TARGET", DEFAULT_TARGET),
        help="server address (ADPULSE_TARGET)",
    )
    parser.add_argument("--tenant", default=os.environ.get("ADPULSE_TENANT"), help="tenant (ADPULSE_TENANT)")
    parser.add_argument(
        "--api-key",
        help=f"API key ({API_KEY_ENV}; default: the key in <ADPULSE_DATA_DIR or ./.adpulse>/admin.key)",
    )
    _tls_arguments(parser)
    commands = parser.add_subparsers(dest="command", required=True)
    for module in (
        serve_cmd,
        ingest_cmd,
        query_cmd,
        search_cmd,
        analytics,
        admin_cmd,
        jobs_cmd,
        alerts_cmd,
        access_cmd,
        audit_cmd,
        tenant_cmd,
        completion_cmd,
    ):
        module.register(commands)
    parser.set_defaults(parser=parser)
    return parser


def _version() -> str:
    try:
        return importlib.metadata.version("adpulse-client")
    except importlib.metadata.PackageNotFoundError:  # run from a source tree without installing
        return "unknown"


def _tls_arguments(parser: argparse.ArgumentParser) -> None:
    env = os.environ.get
    parser.add_argument(
        "--tls", action="store_true", default=bool(env("ADPULSE_TLS")), help="speak TLS (ADPULSE_TLS)"
    )
    parser.add_argument(
        "--ca-cert",
        type=Path,
        default=env("ADPULSE_CA_CERT"),
        help="PEM of the CA that signed the server's certificate; implies --tls (ADPULSE_CA_CERT)",
    )
    parser.add_argument(
        "--client-cert",
        type=Path,
        default=env("ADPULSE_CLIENT_CERT"),
        help="PEM certificate for mutual TLS; implies --tls (ADPULSE_CLIENT_CERT)",
    )
    parser.add_argument(
        "--client-key",
        type=Path,
        default=env("ADPULSE_CLIENT_KEY"),
        help="PEM key of --client-cert (ADPULSE_CLIENT_KEY)",
    )


def _tls(args: argparse.Namespace) -> Tls | None:
    if not (args.tls or args.ca_cert or args.client_cert or args.client_key):
        return None
    return Tls(ca_cert=args.ca_cert, client_cert=args.client_cert, client_key=args.client_key)


def run(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if not args.needs_client:
        return int(args.run(args))
    try:
        tls = _tls(args)
    except ValueError as err:
        print(f"adpulse: {err}", file=sys.stderr)
        return 1
    try:
        with AdpulseClient(args.target, tenant=args.tenant, api_key=args.api_key, tls=tls) as client:
            try:
                return int(args.run(client, args))
            except AdpulseError as err:
                if err.code == "UNAUTHENTICATED" and not client.api_key:
                    err.message += (
                        f" (no key given: pass --api-key, set {API_KEY_ENV}, or run where"
                        " ADPULSE_DATA_DIR or ./.adpulse holds the server's admin.key)"
                    )
                raise
    except AdpulseError as err:
        print(f"adpulse: {_for_cli(str(err))}", file=sys.stderr)
        for violation in err.violations:
            print(f"  {violation.field}: {_for_cli(violation.description)}", file=sys.stderr)
        return 1
    except OSError as err:
        print(f"adpulse: {err.strerror or err}: {err.filename or ''}".rstrip(": "), file=sys.stderr)
        return 1
    except (ValueError, ImportError) as err:  # a bad name or value the SDK refused before any call
        print(f"adpulse: {err}", file=sys.stderr)
        return 1


def main() -> None:
    sys.exit(run())
