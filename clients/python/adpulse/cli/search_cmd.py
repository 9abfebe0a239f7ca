"""`adpulse search`: the tenant's accounts, campaigns, ad groups and ads by id or name, biggest
recent spenders first."""

from __future__ import annotations

import argparse
from decimal import Decimal
from typing import Any

from adpulse.cli.render import table, to_json
from adpulse.client import AdpulseClient
from adpulse.client.analytics_calls import KINDS, MATCHES
from adpulse.client.metrics import MICROS
from adpulse.v1 import analytics_service_pb2 as pb

_KIND_NAMES = {value: name for name, value in KINDS.items()}
COLUMNS = [
    "kind",
    "id",
    "name",
    "platform",
    "account_id",
    "campaign_id",
    "currency",
    "recent_cost",
    "last_date",
]


def register(commands: Any) -> None:
    search = commands.add_parser(
        "search", help="accounts, campaigns, ad groups and ads by id or name, biggest recent spend first"
    )
    search.add_argument("query", help="text the id or name starts with (case-insensitive)")
    search.add_argument(
        "--kind", action="append", default=[], choices=sorted(KINDS), help="only this kind (repeatable)"
    )
    search.add_argument("--platform", action="append", default=[], help="only this platform (repeatable)")
    search.add_argument(
        "--match", default="prefix", choices=sorted(MATCHES), help="prefix (default) or substring"
    )
    search.add_argument("--limit", type=int, default=20, help="at most this many values (default 20)")
    search.add_argument("--json", action="store_true", help="print one JSON object")
    search.set_defaults(run=run, needs_client=True)


def _value_json(value: pb.DimensionValue) -> dict[str, Any]:
    return {
        "kind": _KIND_NAMES[value.kind],
        "id": value.id,
        "name": value.name,
        "platform": value.platform,
        "account_id": value.account_id,
        "campaign_id": value.campaign_id,
        "ad_group_id": value.ad_group_id,
        "currency": value.currency,
        "recent_cost": Decimal(value.recent_cost_micros) / MICROS,
        "last_date": value.last_date,
    }


def run(client: AdpulseClient, args: argparse.Namespace) -> int:
    found = client.search(
        args.query, match=args.match, kinds=args.kind, platforms=args.platform, limit=args.limit
    )
    values = [_value_json(v) for v in found.values]
    if args.json:
        print(
            to_json(
                {
                    "values": values,
                    "total_size": found.total_size,
                    "recent_start_date": found.recent_start_date,
                    "recent_end_date": found.recent_end_date,
                }
            )
        )
        return 0
    print(table(COLUMNS, [[v[c] for c in COLUMNS] for v in values]))
    return 0
