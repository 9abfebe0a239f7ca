"""`adpulse tenants` and `adpulse keys`: who may call, for which tenant, with what scopes."""

from __future__ import annotations

import argparse
import datetime as dt
import re
from typing import Any

from google.protobuf import timestamp_pb2

from adpulse.cli.render import table, to_json
from adpulse.client import AdpulseClient
from adpulse.client.access_calls import SCOPE_NAMES, SCOPES
from adpulse.v1 import access_service_pb2 as acpb

_DURATION = re.compile(r"(\d+)([smhdw])")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
_STATES = {
    acpb.API_KEY_STATE_ACTIVE: "active",
    acpb.API_KEY_STATE_EXPIRED: "expired",
    acpb.API_KEY_STATE_REVOKED: "revoked",
}


def duration(text: str) -> dt.timedelta:
    """`30d`, `12h`, `90m`, `2w`, `45s`."""
    match = _DURATION.fullmatch(text.strip())
    if not match:
        raise argparse.ArgumentTypeError(f"{text!r} is not a duration like 30d, 12h, 90m")
    return dt.timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})


def register(commands: Any) -> None:
    tenants = commands.add_parser("tenants", help="register and list tenants (operator key)")
    tenant_commands = tenants.add_subparsers(dest="tenants_command", required=True)
    create = tenant_commands.add_parser("create", help="register a tenant, so keys can be made for it")
    create.add_argument("name")
    create.add_argument("--json", action="store_true", help="print JSON")
    create.set_defaults(run=run_tenants_create, needs_client=True)
    listing = tenant_commands.add_parser("list", help="the registered tenants")
    listing.add_argument("--json", action="store_true", help="print JSON")
    listing.set_defaults(run=run_tenants_list, needs_client=True)

    keys = commands.add_parser("keys", help="make, list and revoke API keys")
    key_commands = keys.add_subparsers(dest="keys_command", required=True)
    create = key_commands.add_parser("create", help="make a key; its secret is printed this once")
    create.add_argument("--tenant", dest="key_tenant", default="", help="its tenant (default: the call's)")
    create.add_argument(
        "--scope",
        dest="scopes",
        action="append",
        choices=sorted(SCOPES),
        required=True,
        help="what it may do (repeat for several); operator stands alone",
    )
    create.add_argument("--name", default="", help="what the key is for")
    create.add_argument("--expires", type=duration, help="expire after this long, e.g. 30d")
    create.add_argument("--json", action="store_true", help="print JSON")
    create.set_defaults(run=run_keys_create, needs_client=True)
    listing = key_commands.add_parser("list", help="keys (never their secrets), newest first")
    listing.add_argument("--tenant", dest="key_tenant", default="", help="only this tenant's keys")
    listing.add_argument("--all", action="store_true", help="revoked and expired keys too")
    listing.add_argument("--json", action="store_true", help="print JSON")
    listing.set_defaults(run=run_keys_list, needs_client=True)
    revoke = key_commands.add_parser("revoke", help="revoke a key for good")
    revoke.add_argument("key_id")
    revoke.set_defaults(run=run_keys_revoke, needs_client=True)


def time_text(ts: timestamp_pb2.Timestamp, present: bool) -> str:
    return ts.ToDatetime(tzinfo=dt.UTC).isoformat(timespec="seconds") if present else ""


def _tenant_json(tenant: acpb.Tenant) -> dict[str, Any]:
    return {"name": tenant.name, "created": time_text(tenant.create_time, tenant.HasField("create_time"))}


def _key_json(key: acpb.ApiKey) -> dict[str, Any]:
    return {
        "key_id": key.key_id,
        "name": key.name,
        "tenant": key.tenant,
        "scopes": [SCOPE_NAMES[s] for s in key.scopes],
        "state": _STATES.get(key.state, "unknown"),
        "created": time_text(key.create_time, key.HasField("create_time")),
        "last_used": time_text(key.last_use_time, key.HasField("last_use_time")),
        "expires": time_text(key.expire_time, key.HasField("expire_time")),
        "revoked": time_text(key.revoke_time, key.HasField("revoke_time")),
    }


def run_tenants_create(client: AdpulseClient, args: argparse.Namespace) -> int:
    tenant = _tenant_json(client.create_tenant(args.name))
    print(to_json(tenant) if args.json else f"registered tenant {tenant['name']}")
    return 0


def run_tenants_list(client: AdpulseClient, args: argparse.Namespace) -> int:
    tenants = [_tenant_json(t) for t in client.tenants()]
    if args.json:
        print(to_json({"tenants": tenants}))
    else:
        print(table(["name", "created"], [[t["name"], t["created"]] for t in tenants]))
    return 0


def run_keys_create(client: AdpulseClient, args: argparse.Namespace) -> int:
    created = client.create_api_key(args.scopes, tenant=args.key_tenant, name=args.name, ttl=args.expires)
    key = _key_json(created.api_key)
    if args.json:
        print(
            to_json(
                {
                    "key": created.key,
                    "key_id": key["key_id"],
                    "tenant": key["tenant"],
                    "scopes": key["scopes"],
                }
            )
        )
        return 0
    print(created.key)
    owner = f"tenant {key['tenant']}" if key["tenant"] else "every tenant (operator)"
    expiry = f", expires {key['expires']}" if key["expires"] else ""
    print(f"key {key['key_id']} for {owner}, scopes {', '.join(key['scopes'])}{expiry}")
    print("this is the only time the key is shown: keep it now")
    return 0


def run_keys_list(client: AdpulseClient, args: argparse.Namespace) -> int:
    keys = [_key_json(k) for k in client.api_keys(tenant=args.key_tenant, show_inactive=args.all)]
    if args.json:
        print(to_json({"keys": keys}))
        return 0
    columns = ["key_id", "tenant", "scopes", "name", "state", "created", "last_used", "expires"]
    rows = [[k[c] if c != "scopes" else ",".join(k[c]) for c in columns] for k in keys]
    print(table(columns, rows))
    return 0


def run_keys_revoke(client: AdpulseClient, args: argparse.Namespace) -> int:
    key = _key_json(client.revoke_api_key(args.key_id))
    print(f"revoked key {key['key_id']} ({key['revoked']})")
    return 0
