"""Dashboard query latency through the running server, beside the raw ClickHouse queries of the
same sums, uncached, cached and under concurrent clients.

1. Builds a tenant of `--campaigns` × `--days` days with 2-3 ads per campaign and day (10 k ×
   365 gives 10 M fact rows) straight into a data dir's chDB with ClickHouse's own `numbers()`
   (minutes), then rebuilds its rollups once (what a backfill does). `--data-dir` keeps it for
   later runs.
2. Times the raw queries of each dashboard shape in this process: the fact table read FINAL (the
   landed server's plan) and the rollup the planner picks. Then this process lets go of chDB
   (it is single-process) and starts the real server on the same data dir.
3. Times each shape through the server with its result cache off (p50 of `--repeat`), then with
   it on (the first call fills it), then `--clients` threads of a mixed load, cache on and off,
   and GenerateInsights and DetectAnomalies by campaign over a year.

    .venv/bin/python bench/queries.py [--campaigns 10000 --days 365] [--data-dir DIR]
"""

from __future__ import annotations

import argparse
import datetime as dt
import platform
import random
import statistics
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import grpc

from adpulse.server.storage import clickhouse
from adpulse.server.storage.rollups import ClickHouseRollups
from adpulse.v1 import analytics_service_pb2 as apb
from adpulse.v1 import analytics_service_pb2_grpc as apb_grpc
from tests.support.server import running_server

TENANT = "bench"
FIRST_DAY = dt.date(2025, 1, 1)
# ~74 % of campaign-days have 3 ads, the rest 2: 2.74 rows per campaign and day.
_GENERATE = """
INSERT INTO ad_metrics (tenant, date, platform, account_id, campaign_id, campaign_name, ad_group_id,
                        ad_id, currency, impressions, clicks, cost_micros, conversions_micros,
                        revenue_micros, version)
SELECT {tenant:String}, {first:Date} + d,
       ['google_ads', 'meta_ads', 'tiktok_ads', 'linkedin_ads'][c % 4 + 1],
       concat('acct-', toString(c % 100)), concat('cmp-', toString(c)), concat('Campaign ', toString(c)),
       concat('ag-', toString(c), '-', toString(a % 2)), concat('ad-', toString(c), '-', toString(a)),
       if(c % 100 % 10 = 0, 'EUR', 'USD'),
       toInt64(h % 100000) AS impressions, toInt64(impressions * (h % 50) / 1000),
       toInt64(h % 500000000), toInt64(h % 20 * 250000), toInt64(h % 2000000000), 1
FROM (SELECT intDiv(number, 3 * {days:UInt32}) AS c, intDiv(number, 3) % {days:UInt32} AS d,
             number % 3 AS a, cityHash64(number) AS h
      FROM numbers({campaigns:UInt64} * 3 * {days:UInt32}))
WHERE a < 2 + (cityHash64(c, d) % 100 < 74)
"""


def shapes(last: dt.date) -> dict[str, apb.QueryMetricsRequest]:
    year = (last - dt.timedelta(days=364)).isoformat(), last.isoformat()
    return {
        "by platform, year": apb.QueryMetricsRequest(
            start_date=year[0], end_date=year[1], dimensions=[apb.DIMENSION_PLATFORM]
        ),
        "by campaign top 50 by cost, year": apb.QueryMetricsRequest(
            start_date=year[0],
            end_date=year[1],
            dimensions=[apb.DIMENSION_CAMPAIGN],
            order_by="cost desc",
            page_size=50,
        ),
        "by day, 90 days": apb.QueryMetricsRequest(
            start_date=(last - dt.timedelta(days=89)).isoformat(),
            end_date=year[1],
            dimensions=[apb.DIMENSION_DATE],
        ),
        "by week by platform, year": apb.QueryMetricsRequest(
            start_date=year[0],
            end_date=year[1],
            dimensions=[apb.DIMENSION_DATE, apb.DIMENSION_PLATFORM],
            granularity=apb.TIME_GRANULARITY_WEEK,
        ),
    }


# The same sums straight from ClickHouse: (group expression, date span in days, the rollup the
# planner picks and its date column). The year is 2025, whole months.
RAW = {
    "by platform, year": ("platform", 365, "account_daily", "date"),
    "by campaign top 50 by cost, year": (
        "platform, account_id, campaign_id",
        365,
        "campaign_monthly",
        "month",
    ),
    "by day, 90 days": ("date", 90, "account_daily", "date"),
    "by week by platform, year": ("toMonday(date), platform", 365, "account_daily", "date"),
}
_SUMS = "sum(impressions), sum(clicks), sum(cost_micros), sum(conversions_micros), sum(revenue_micros)"


def timed(call: Callable[[], object], repeat: int) -> list[float]:
    out = []
    for _ in range(repeat):
        start = time.perf_counter()
        call()
        out.append(time.perf_counter() - start)
    return out


def p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def prepare(
    data_dir: Path, campaigns: int, days: int, repeat: int
) -> tuple[dt.date, dict[str, dict[str, float]]]:
    """Builds the data (unless present); raw p50s of each shape from facts FINAL and rollups."""
    client = clickhouse.connect(f"chdb://{(data_dir / 'clickhouse').resolve()}")
    clickhouse.migrate(client)
    last = FIRST_DAY + dt.timedelta(days=days - 1)
    params = {"tenant": TENANT, "first": FIRST_DAY, "last": last, "days": days, "campaigns": campaigns}
    rows = client.query("SELECT count() FROM ad_metrics WHERE tenant = {tenant:String}", parameters=params)
    monthly = client.query(
        "SELECT count() FROM campaign_monthly WHERE tenant = {tenant:String}", parameters=params
    )
    if rows.result_rows[0][0] == 0 or monthly.result_rows[0][0] == 0:
        start = time.perf_counter()
        if rows.result_rows[0][0] == 0:
            client.command(_GENERATE, parameters=params)
            client.command("OPTIMIZE TABLE ad_metrics FINAL")
        ClickHouseRollups(client).rebuild(TENANT, FIRST_DAY, last)
        client.command("OPTIMIZE TABLE campaign_daily FINAL")
        client.command("OPTIMIZE TABLE account_daily FINAL")
        client.command("OPTIMIZE TABLE campaign_monthly FINAL")
        print(f"built the tenant in {time.perf_counter() - start:.0f} s")
    count = client.query(
        "SELECT count() FROM ad_metrics FINAL WHERE tenant = {tenant:String}", parameters=params
    )
    print(f"fact rows: {count.result_rows[0][0]:,}")
    raw: dict[str, dict[str, float]] = {}
    for name, (group, span, rollup, date) in RAW.items():
        first = last - dt.timedelta(days=span - 1)
        raw[name] = {}
        for source, column in (("ad_metrics", "date"), (rollup, date)):
            sql = (
                f"SELECT {group}, currency, {_SUMS} FROM {source} FINAL WHERE tenant = {{tenant:String}} "
                f"AND {column} BETWEEN {{first:Date}} AND {{last:Date}} GROUP BY {group}, currency"
            )
            raw[name][source] = _raw_p50(
                client, sql, {"tenant": TENANT, "first": first, "last": last}, repeat
            )
    client.close()
    return last, raw


def _raw_p50(client: clickhouse.ClientPool, sql: str, params: dict[str, object], repeat: int) -> float:
    settings = {"do_not_merge_across_partitions_select_final": 1}
    return statistics.median(
        timed(lambda: client.query_arrow(sql, parameters=params, settings=settings), repeat)
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--campaigns", type=int, default=10_000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--data-dir", type=Path, default=Path("/tmp/adpulse-bench-queries"))
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=20)
    args = parser.parse_args()
    print(
        f"{platform.processor() or platform.machine()}, Python {platform.python_version()}, {dt.date.today()}"
    )
    last, raw = prepare(args.data_dir, args.campaigns, args.days, args.repeat)
    requests = shapes(last)

    for label, cache_bytes in (("uncached", "0"), ("cached", str(256 << 20))):
        # All clients are one tenant: its cap on calls at once (8 by default) would refuse half
        # of 16 with TOO_MANY_CALLS and end those clients; the load measures the server's pace.
        env = {
            "ADPULSE_QUERY_CACHE_BYTES": cache_bytes,
            "ADPULSE_TENANT_MAX_CONCURRENT_CALLS": str(args.clients),
        }
        with running_server(args.data_dir, env) as server:
            metadata = (("x-adpulse-tenant", TENANT), *server.key_metadata)
            # DetectAnomalies by campaign over a year answers ~17 MB.
            with grpc.insecure_channel(
                server.address, [("grpc.max_receive_message_length", 256 << 20)]
            ) as channel:
                stub = apb_grpc.AnalyticsServiceStub(channel)
                measure(stub, metadata, label, requests, raw=raw, args=args)
                if label == "uncached":
                    analytics(stub, metadata, last, args.repeat)


def measure(
    stub: apb_grpc.AnalyticsServiceStub,
    metadata: tuple[tuple[str, str], ...],
    label: str,
    requests: dict[str, apb.QueryMetricsRequest],
    *,
    raw: dict[str, dict[str, float]],
    args: argparse.Namespace,
) -> None:
    def call(request: apb.QueryMetricsRequest) -> apb.QueryMetricsResponse:
        return stub.QueryMetrics(request, metadata=metadata, timeout=120)  # type: ignore[no-any-return]

    print(f"\n## {label} (server vs raw ClickHouse of the same sums, p50 of {args.repeat})")
    print("| shape | source | server ms | facts FINAL ms | rollup ms | × facts | × rollup |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for name, request in requests.items():
        source = apb.QuerySource.Name(call(request).source)  # also fills the cache
        ms = statistics.median(timed(lambda r=request: call(r), args.repeat)) * 1000
        facts, rollup = (v * 1000 for v in raw[name].values())
        print(
            f"| {name} | {source.removeprefix('QUERY_SOURCE_').lower()} | {ms:.1f} | {facts:.1f} "
            f"| {rollup:.1f} | {ms / facts:.2f} | {ms / rollup:.2f} |"
        )
    load(call, list(requests.values()), args.clients, args.seconds, label)


def load(
    call: Callable[[apb.QueryMetricsRequest], object],
    requests: list[apb.QueryMetricsRequest],
    clients: int,
    seconds: float,
    label: str,
) -> None:
    """`clients` threads calling the shapes in random order for `seconds`."""
    latencies: list[float] = []
    lock = threading.Lock()
    stop = time.perf_counter() + seconds

    def client(seed: int) -> None:
        rng = random.Random(seed)
        mine = []
        while time.perf_counter() < stop:
            start = time.perf_counter()
            call(rng.choice(requests))
            mine.append(time.perf_counter() - start)
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    began = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - began
    print(
        f"\nmixed load, {clients} clients, {label}: {len(latencies) / elapsed:.0f} queries/s, "
        f"p50 {p(latencies, 0.5) * 1000:.1f} ms, p99 {p(latencies, 0.99) * 1000:.1f} ms "
        f"({len(latencies)} queries in {elapsed:.1f} s)"
    )


def analytics(
    stub: apb_grpc.AnalyticsServiceStub, metadata: tuple[tuple[str, str], ...], last: dt.date, repeat: int
) -> None:
    year = (last - dt.timedelta(days=364)).isoformat()
    calls = {
        "GenerateInsights (28 days)": lambda: stub.GenerateInsights(
            apb.GenerateInsightsRequest(end_date=last.isoformat()), metadata=metadata, timeout=600
        ),
        "DetectAnomalies by campaign, year": lambda: stub.DetectAnomalies(
            apb.DetectAnomaliesRequest(
                start_date=year,
                end_date=last.isoformat(),
                metric=apb.METRIC_COST,
                dimensions=[apb.DIMENSION_CAMPAIGN],
            ),
            metadata=metadata,
            timeout=600,
        ),
    }
    for name, run in calls.items():
        times = timed(run, max(3, repeat // 5))
        print(f"{name}: p50 {statistics.median(times):.2f} s (of {len(times)})")


if __name__ == "__main__":
    main()
