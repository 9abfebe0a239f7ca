"""Bytes on disk per row of the fact table and each rollup, with chDB's (ClickHouse's default LZ4)
compression, on generated rows; extrapolated to a billion fact rows and split over shards.

    .venv/bin/python bench/storage_size.py [--campaigns 10000] [--days 365] [--shards 2] [--replicas 2]

The tenant has `--campaigns` campaigns over `--days` days with 2-3 ads each (10 k x 365 gives
~10 M fact rows, the shape of bench/queries.py); measures are log-normal, clicks and conversions
follow impressions, so they compress like delivery data rather than like noise. Ids are short
synthetic strings: real platform ids and names are longer and compress somewhat worse. The
rollups are built by the server's own rebuild (storage/rollups.py), then every table is merged
(OPTIMIZE FINAL) so the figures are those of a settled table, not of fresh parts.
"""

from __future__ import annotations

import argparse
import datetime as dt
import tempfile
import time
from pathlib import Path

from adpulse.server.storage import clickhouse
from adpulse.server.storage.rollups import ClickHouseRollups

TENANT = "bench-storage"
FIRST_DAY = dt.date(2025, 1, 1)
TABLES = ("ad_metrics", "campaign_daily", "campaign_monthly", "account_daily", "dimension_values")
BILLION = 1_000_000_000

_FACTS = """
INSERT INTO ad_metrics (tenant, date, platform, account_id, campaign_id, campaign_name, ad_group_id,
                        ad_id, currency, impressions, clicks, cost_micros, conversions_micros,
                        revenue_micros, version)
SELECT {tenant:String}, toDate({first:String}) + d,
       ['google_ads', 'meta_ads', 'tiktok_ads', 'linkedin_ads'][c % 4 + 1],
       concat('acc-', toString(c % 100)), concat('cmp-', toString(c)), concat('Campaign ', toString(c)),
       concat('grp-', toString(c), '-', toString(ad % 2)), concat('ad-', toString(c), '-', toString(ad)),
       if(c % 10 = 0, 'EUR', 'USD'), imps, intDiv(imps * (10 + c % 30), 1000) AS clicks,
       toInt64(imps * exp(randNormal(0, 0.3)) * 2500) AS cost,
       intDiv(clicks * (20 + c % 50), 1000) * 1000000, toInt64(cost * exp(randNormal(1, 0.5))), 1
FROM (SELECT number AS c FROM numbers({campaigns:UInt32}))
ARRAY JOIN range({days:UInt32}) AS d
ARRAY JOIN range(2 + (c % 4 != 0)) AS ad
ARRAY JOIN [toInt64(exp(7 + (c % 5) * 0.5 + randNormal(0, 0.4)))] AS imps
"""
_PARTS = """
SELECT table, sum(rows), sum(bytes_on_disk), sum(data_compressed_bytes), sum(data_uncompressed_bytes)
FROM system.parts WHERE active AND database = currentDatabase() AND table IN {tables:Array(String)}
GROUP BY table
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--campaigns", type=int, default=10_000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--shards", type=int, default=2)
    parser.add_argument("--replicas", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="adpulse-storage-") as tmp:
        client = clickhouse.connect(f"chdb://{Path(tmp) / 'clickhouse'}")
        clickhouse.migrate(client)
        params = {
            "tenant": TENANT,
            "first": FIRST_DAY.isoformat(),
            "campaigns": args.campaigns,
            "days": args.days,
        }
        started = time.perf_counter()
        client.command(_FACTS, parameters=params, settings=clickhouse.INSERT_SETTINGS)
        loaded = time.perf_counter()
        ClickHouseRollups(client).rebuild(TENANT, FIRST_DAY, FIRST_DAY + dt.timedelta(days=args.days - 1))
        rebuilt = time.perf_counter()
        for table in TABLES:
            client.command(f"OPTIMIZE TABLE {table} FINAL")
        rows = client.query(_PARTS, parameters={"tables": list(TABLES)}).result_rows
        client.close()
    sizes = {table: (int(r), int(disk), int(comp), int(raw)) for table, r, disk, comp, raw in rows}
    facts = sizes["ad_metrics"][0]
    print(f"tenant: {args.campaigns} campaigns x {args.days} days -> {facts:,} fact rows")
    print(
        f"load {loaded - started:.1f} s, rollup rebuild {rebuilt - loaded:.1f} s (one process, shared cores)"
    )
    print(f"{'table':18} {'rows':>12} {'on disk':>10} {'B/row':>7} {'compr':>6} {'per 1e9 facts':>14}")
    total = 0.0
    for table in TABLES:
        if table not in sizes:
            continue
        count, disk, comp, raw = sizes[table]
        per_billion = disk / facts * BILLION
        total += per_billion
        print(
            f"{table:18} {count:>12,} {disk / 1e6:>8.1f}MB {disk / max(count, 1):>7.1f} "
            f"{raw / max(comp, 1):>5.1f}x {per_billion / 1e9:>12.1f}GB"
        )
    rollups = total - sizes["ad_metrics"][1] / facts * BILLION
    print(f"rollups / facts on disk: {rollups / (total - rollups):.2f}")
    print(
        f"per 1e9 fact rows: {total / 1e9:.1f} GB of data; on {args.shards} shards x {args.replicas} "
        f"replicas each node holds ~{total / args.shards / 1e9:.1f} GB "
        f"({total * args.replicas / 1e9:.1f} GB over the cluster)"
    )


if __name__ == "__main__":
    main()
