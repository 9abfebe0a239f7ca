"""SearchDimensionValues latency over a tenant of 100 k campaigns, through the running server,
beside the raw ClickHouse query that answers the same campaigns from the facts, and what keeping
the search index costs an insert.

1. Builds a tenant of `--campaigns` campaigns (one ad group, two ads each; every tenth name has
   "Summer") over `--days` days straight into a data dir's chDB with `numbers()`, then the
   rollups and the search index once (what a backfill does). `--data-dir` keeps it. Search is
   over names, ranked by a sum of recent days: a few days per campaign answer the same, and
   build in about a minute instead of the 8+ a month of days took (the run never finished).
2. In this process: the raw query per shape (campaigns whose id or name matches, recent cost
   summed from the facts read FINAL, top 20), and the index's own refresh of one more day of
   every campaign beside the rollups' refresh of it. The raw query scans the facts, so it is
   timed `--raw-repeat` times, not `--repeat`.
3. Starts the real server on the data dir and times each shape through gRPC (p50 of
   `--repeat`), printing the ratio to the raw query.

    .venv/bin/python bench/search.py [--campaigns 100000 --days 3] [--data-dir DIR]
"""

from __future__ import annotations

import argparse
import datetime as dt
import platform
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import grpc
import pyarrow as pa

from adpulse.server.domain.search import Match
from adpulse.server.storage import clickhouse
from adpulse.server.storage.dimension_values import RECENT_DAYS, ClickHouseDimensionValues, like_pattern
from adpulse.server.storage.rollups import ClickHouseRollups
from adpulse.v1 import analytics_service_pb2 as apb
from adpulse.v1 import analytics_service_pb2_grpc as apb_grpc
from bench.queries import timed
from tests.support.server import running_server

TENANT = "bench-search"
FIRST_DAY = dt.date(2026, 1, 1)
_FACTS = """
SELECT {tenant:String} AS tenant, {first:Date} + d AS date,
       ['google_ads', 'meta_ads', 'tiktok_ads', 'linkedin_ads'][c % 4 + 1] AS platform,
       concat('acct-', toString(c % 100)) AS account_id, concat('cmp-', toString(c)) AS campaign_id,
       concat(if(c % 10 = 0, 'Summer Sale ', 'Campaign '), toString(c)) AS campaign_name,
       concat('ag-', toString(c)) AS ad_group_id, concat('ad-', toString(c), '-', toString(a)) AS ad_id,
       'USD' AS currency, toInt64(h % 100000) AS impressions, toInt64(h % 1000) AS clicks,
       toInt64(h % 500000000) AS cost_micros, toInt64(0) AS conversions_micros,
       toInt64(0) AS revenue_micros, {version:UInt64} AS version
FROM (SELECT intDiv(number, 2 * {days:UInt32}) AS c, intDiv(number, 2) % {days:UInt32} AS d,
             number % 2 AS a, cityHash64(number, {version:UInt64}) AS h
      FROM numbers({campaigns:UInt64} * 2 * {days:UInt32}))
"""
_COLUMNS = (
    "tenant, date, platform, account_id, campaign_id, campaign_name, ad_group_id, ad_id, currency, "
    "impressions, clicks, cost_micros, conversions_micros, revenue_micros, version"
)
# (query, match, kinds): what a search box sends.
SHAPES: dict[str, tuple[str, Match, list[int]]] = {
    "prefix 'summer', campaigns": ("summer", Match.PREFIX, [apb.DIMENSION_CAMPAIGN]),
    "prefix 'cmp-1234', campaigns": ("cmp-1234", Match.PREFIX, [apb.DIMENSION_CAMPAIGN]),
    "substring 'sale 99', campaigns": ("sale 99", Match.SUBSTRING, [apb.DIMENSION_CAMPAIGN]),
    "substring '777', every kind": ("777", Match.SUBSTRING, []),
    "empty query (top spenders), campaigns": ("", Match.PREFIX, [apb.DIMENSION_CAMPAIGN]),
}
_MATCHES = {Match.PREFIX: apb.SEARCH_MATCH_PREFIX, Match.SUBSTRING: apb.SEARCH_MATCH_SUBSTRING}
# The same campaigns from the facts: recent cost of every campaign summed, names matched, top 20.
_RAW = """
SELECT platform, account_id, campaign_id, argMax(campaign_name, (date, version)) AS name,
       sumIf(cost_micros, date >= {since:Date}) AS recent
FROM ad_metrics FINAL WHERE tenant = {tenant:String}
GROUP BY platform, account_id, campaign_id
HAVING campaign_id ILIKE {pattern:String} OR name ILIKE {pattern:String}
ORDER BY recent DESC, name, campaign_id LIMIT 20
"""


def prepare(data_dir: Path, campaigns: int, days: int, repeat: int) -> dict[str, float]:
    """Builds the data (unless present); the raw p50 of each campaign shape; times one refresh."""
    client = clickhouse.connect(f"chdb://{(data_dir / 'clickhouse').resolve()}")
    clickhouse.migrate(client)
    last = FIRST_DAY + dt.timedelta(days=days - 1)
    params = {"tenant": TENANT, "first": FIRST_DAY, "days": days, "campaigns": campaigns, "version": 1}
    count = "SELECT count() FROM {table:Identifier} WHERE tenant = {tenant:String}"
    if client.query(count, parameters={**params, "table": "dimension_values"}).result_rows[0][0] == 0:
        start = time.perf_counter()
        client.command(f"INSERT INTO ad_metrics ({_COLUMNS}) {_FACTS}", parameters=params)
        client.command("OPTIMIZE TABLE ad_metrics FINAL")
        ClickHouseRollups(client).rebuild(TENANT, FIRST_DAY, last)
        client.command("OPTIMIZE TABLE dimension_values FINAL")
        print(f"built the tenant in {time.perf_counter() - start:.0f} s")
    for table in ("ad_metrics", "dimension_values"):
        rows = client.query(count, parameters={**params, "table": table}).result_rows[0][0]
        print(f"{table} rows: {rows:,}")
    newest = client.query(
        "SELECT max(date) FROM ad_metrics WHERE tenant = {tenant:String}", parameters=params
    ).result_rows[0][0]
    since = newest - dt.timedelta(days=RECENT_DAYS - 1)
    raw = {}
    for name, (text, match, kinds) in SHAPES.items():
        if kinds == [apb.DIMENSION_CAMPAIGN]:
            query = {"tenant": TENANT, "since": since, "pattern": like_pattern(text, match)}
            raw[name] = statistics.median(
                timed(lambda q=query: client.query(_RAW, parameters=q), repeat)  # type: ignore[misc]
            )
    refresh(client, newest + dt.timedelta(days=1), campaigns)
    client.close()
    return raw


def refresh(client: clickhouse.ClientPool, day: dt.date, campaigns: int) -> None:
    """One more day of every campaign, inserted as ingest would, then its refreshes timed."""
    version = time.time_ns()
    params = {"tenant": TENANT, "first": day, "days": 1, "campaigns": campaigns, "version": version}
    client.command(f"INSERT INTO ad_metrics ({_COLUMNS}) {_FACTS}", parameters=params)
    facts = pa.table({"date": pa.array([day], pa.date32())}).to_batches()[0]
    start = time.perf_counter()
    ClickHouseRollups(client).refresh(TENANT, version, facts)
    both = time.perf_counter() - start
    start = time.perf_counter()
    ClickHouseDimensionValues(client).refresh(TENANT, version, day, day)
    index = time.perf_counter() - start
    print(
        f"\nrefresh after a batch of {2 * campaigns:,} rows (one day of every campaign): rollups and "
        f"index {both:.2f} s, of which the index (timed again alone) {index:.2f} s ({index / both:.0%})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--campaigns", type=int, default=100_000)
    parser.add_argument("--days", type=int, default=3)
    parser.add_argument("--data-dir", type=Path, default=Path("/tmp/adpulse-bench-search"))
    parser.add_argument("--repeat", type=int, default=31)
    parser.add_argument("--raw-repeat", type=int, default=3)
    args = parser.parse_args()
    print(
        f"{platform.processor() or platform.machine()}, Python {platform.python_version()}, {dt.date.today()}"
    )
    raw = prepare(args.data_dir, args.campaigns, args.days, args.raw_repeat)
    with running_server(args.data_dir) as server, grpc.insecure_channel(server.address) as channel:
        metadata = (("x-adpulse-tenant", TENANT), *server.key_metadata)
        stub = apb_grpc.AnalyticsServiceStub(channel)
        print(f"\n## SearchDimensionValues, page of 20 (p50 of {args.repeat}; raw: facts FINAL, same answer)")
        print("| shape | matches | server p50 ms | server p90 ms | raw facts ms | × raw |")
        print("|---|---:|---:|---:|---:|---:|")
        for name, (text, match, kinds) in SHAPES.items():
            request = apb.SearchDimensionValuesRequest(
                query=text, match=_MATCHES[match], kinds=kinds, page_size=20
            )

            def call(r: apb.SearchDimensionValuesRequest = request) -> apb.SearchDimensionValuesResponse:
                return stub.SearchDimensionValues(r, metadata=metadata, timeout=60)  # type: ignore[no-any-return]

            total = call().total_size
            times = sorted(timed(call, args.repeat))
            p50, p90 = statistics.median(times) * 1000, times[int(0.9 * (len(times) - 1))] * 1000
            base = raw.get(name)
            ratio = f"{p50 / (base * 1000):.3f}" if base else "—"
            raw_ms = f"{base * 1000:.1f}" if base else "—"
            print(f"| {name} | {total:,} | {p50:.1f} | {p90:.1f} | {raw_ms} | {ratio} |")


if __name__ == "__main__":
    main()
