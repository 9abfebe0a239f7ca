"""`adpulse audit`: who changed what, and which calls were refused, newest first."""

from __future__ import annotations

import argparse
import datetime as dt
from typing import Any

from adpulse.cli.access_cmd import duration, time_text
from adpulse.cli.render import table, to_json
from adpulse.client import AdpulseClient
from adpulse.v1 import access_service_pb2 as acpb

COLUMNS = ["time", "tenant", "key", "action", "target", "outcome", "reason", "peer"]


def register(commands: Any) -> None:
    audit = commands.add_parser(
        "audit", help="the audit log, newest first (an admin key: its tenant's; an operator: all)"
    )
    audit.add_argument("--since", type=duration, help="only the last period, e.g. 1d, 12h, 30m")
    audit.add_argument("--for-tenant", default="", help="only this tenant's events (for operators)")
    audit.add_argument("--key", dest="key_id", default="", help="only the events of this key id")
    audit.add_argument("--denied", action="store_true", help="only refused calls")
    audit.add_argument("--limit", type=int, default=1000, help="at most this many events (default 1000)")
    audit.add_argument("--json", action="store_true", help="print JSON")
    audit.set_defaults(run=run_audit, needs_client=True)


def _event_json(event: acpb.AuditEvent) -> dict[str, Any]:
    return {
        "event_id": event.event_id,
        "time": time_text(event.time, event.HasField("time")),
        "tenant": event.tenant,
        "key_id": event.key_id,
        "action": event.action,
        "target": event.target,
        "outcome": event.outcome,
        "reason": event.reason,
        "peer": event.peer,
    }


def run_audit(client: AdpulseClient, args: argparse.Namespace) -> int:
    since = dt.datetime.now(dt.UTC) - args.since if args.since else None
    found = client.audit_events(
        tenant=args.for_tenant, since=since, key_id=args.key_id, denied_only=args.denied, limit=args.limit
    )
    events = [_event_json(e) for e in found]
    if args.json:
        print(to_json({"events": events}))
        return 0
    keys = {"key": "key_id"}
    print(table(COLUMNS, [[e[keys.get(c, c)] for c in COLUMNS] for e in events]))
    return 0
