"""`adpulse tenant export` and `adpulse tenant delete`: the tenant's data as one archive, and
its deletion (admin key; the tenant is `--tenant`'s, or the key's own)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from google.protobuf import json_format

from adpulse.cli.jobs_cmd import _failed, _follow, checked, save
from adpulse.cli.render import table, to_json
from adpulse.client import AdpulseClient


def register(commands: Any) -> None:
    tenant = commands.add_parser("tenant", help="export or delete everything stored for the tenant (admin)")
    actions = tenant.add_subparsers(dest="tenant_command", required=True)
    export = actions.add_parser("export", help="download everything stored for the tenant as one zip archive")
    export.add_argument("--output", "-o", type=Path, help="file to write (default: the server's file name)")
    export.add_argument("--json", action="store_true", help="print one JSON object")
    export.set_defaults(run=run_export, needs_client=True)
    delete = actions.add_parser("delete", help="delete everything stored for the tenant, for good")
    delete.add_argument("--confirm", required=True, metavar="NAME", help="the tenant's name, typed back")
    delete.add_argument("--json", action="store_true", help="print one JSON object")
    delete.set_defaults(run=run_delete, needs_client=True)


def run_export(client: AdpulseClient, args: argparse.Namespace) -> int:
    done = _follow(client, client.export_tenant_data(), show=sys.stderr.isatty() and not args.json)
    if done is None:
        return 130
    if done.error is not None:
        return _failed(done, args.json)
    r = done.response
    target = args.output or Path(r.file_name)
    if not checked(save(client.download_tenant_data(done.name), target), r.sha256):
        return 1
    if args.json:
        print(
            to_json({"path": str(target), **json_format.MessageToDict(r, preserving_proto_field_name=True)})
        )
    else:
        print(table(["entry", "rows"], [[e.path, e.rows] for e in r.entries]))
        print(f"wrote {r.size_bytes:,} bytes to {target}")
    return 0


def run_delete(client: AdpulseClient, args: argparse.Namespace) -> int:
    done = _follow(
        client, client.delete_tenant_data(args.confirm), show=sys.stderr.isatty() and not args.json
    )
    if done is None:
        return 130
    if done.error is not None:
        return _failed(done, args.json)
    r = done.response
    if args.json:
        print(to_json(json_format.MessageToDict(r, preserving_proto_field_name=True)))
    else:
        print(table(["store", "deleted", "remaining"], [[c.store, c.deleted, c.remaining] for c in r.counts]))
        print(f"deleted the data of tenant {r.tenant}")
    return 0
