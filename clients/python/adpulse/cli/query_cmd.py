"""`adpulse kpis`: sums and KPIs grouped by dimensions."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Any

from adpulse.cli.render import table, to_json
from adpulse.client import AdpulseClient, MetricsRecord
from adpulse.client.analytics_calls import DIMENSIONS, GRANULARITIES
from adpulse.client.metrics import KPIS, MONEY_KPIS, columns_for

MEASURES = ("impressions", "clicks", "cost", "conversions", "revenue")


def register(commands: Any) -> None:
    kpis = commands.add_parser("kpis", help="sums and KPIs grouped by dimensions")
    add_by(kpis, DIMENSIONS)
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
    kpis.add_argument("--currency", default="", help="report money in this currency (needs FX rates)")
    kpis.add_argument("--json", action="store_true", help="print one JSON object")
    kpis.set_defaults(run=run, needs_client=True)


def add_by(command: argparse.ArgumentParser, dimensions: Iterable[str]) -> None:
    """`--by`: repeated (`--by a --by b`) or listed (`--by a b`), every named dimension counts."""
    command.add_argument(
        "--by",
        nargs="+",
        action="extend",
        default=[],
        choices=sorted(dimensions),
        metavar="DIM",
        help=f"group by these dimensions, of {', '.join(sorted(dimensions))}",
    )


def parse_filters(specs: Sequence[str]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for spec in specs:
        dim, sep, values = spec.partition("=")
        if not sep or dim not in DIMENSIONS or not values:
            print(
                f"adpulse: bad filter {spec!r}; expected DIM=V1,V2 with DIM one of {sorted(DIMENSIONS)}",
                file=sys.stderr,
            )
            raise SystemExit(1)
        out.setdefault(dim, []).extend(v for v in values.split(",") if v)
    return out


def run(client: AdpulseClient, args: argparse.Namespace) -> int:
    result = client.query_metrics(
        start=args.start,
        end=args.end,
        by=args.by,
        granularity=args.granularity,
        filters=parse_filters(args.filter),
        exclude=parse_filters(args.exclude),
        order_by=args.order_by,
        limit=args.limit,
        currency=args.currency,
    )
    if args.json:
        print(to_json({"rows": [r.as_json() for r in result.rows], "totals": result.totals.as_json()}))
        return 0
    dims = columns_for(args.by)
    headers = [*dims, "currency", *MEASURES, *KPIS]

    def cells(record: MetricsRecord) -> list[object]:
        values = record.as_dict()
        # Costs per click, mille and action are money: two decimals, like cost itself.
        for kpi in MONEY_KPIS:
            values[kpi] = None if values[kpi] is None else Decimal(repr(values[kpi]))
        return [values.get(h) for h in headers]

    body = [cells(r) for r in result.rows]
    if dims:
        body.append(["total", *cells(result.totals)[1:]])
    print(table(headers, body))
    return 0
