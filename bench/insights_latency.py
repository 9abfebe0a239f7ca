"""GenerateInsights end to end, through the real service: p50 and p99 latency on one tenant.

The tenant is the demo account (`adpulse.client.demo`: four platforms, weekly seasonality,
trends, noise, five injected incidents) with `--campaigns` campaigns over `--days` days, two ad
rows per campaign and day, loaded through the normal ingest API. The script then times
`--calls` GenerateInsights calls over the last 28 days (the default range), with the stories
(each incident's explanation and action), after one warm-up call. Each call runs the whole
pipeline: ClickHouse pre-aggregation, detection over eight metrics per campaign, explanations,
movers, underperformers, reallocation, pacing, and storing the insights in Postgres.

Run: `.venv/bin/python bench/insights_latency.py [--campaigns 1000] [--days 365] [--calls 20]`.
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from adpulse.client import AdpulseClient, demo
from tests.support.server import running_server

END = dt.date(2026, 11, 15)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--campaigns", type=int, default=1000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--calls", type=int, default=20)
    parser.add_argument("--seed", type=int, default=7)
    return parser.parse_args()


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile: with few calls p99 is the slowest one."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered) + 0.5) - 1))]


def main() -> int:
    args = parse_args()
    started = time.perf_counter()
    text, _ = demo.dataset(args.seed, end=END, days=args.days, campaign_count=args.campaigns)
    rows = text.count("\n") - 1
    generated = time.perf_counter() - started
    with tempfile.TemporaryDirectory() as tmp, running_server(Path(tmp) / "data") as server:
        path = Path(tmp) / "tenant.csv"
        path.write_text(text)
        del text
        with AdpulseClient(server.address, tenant="large", timeout=1800) as client:
            started = time.perf_counter()
            report = client.ingest_files([path])
            ingested = time.perf_counter() - started
            assert report.accepted == rows, report
            client.generate_insights(stories=True)  # warm-up
            seconds = []
            found = 0
            for _ in range(args.calls):
                started = time.perf_counter()
                response = client.generate_insights(stories=True)
                seconds.append(time.perf_counter() - started)
                found = len(response.insights)
    print(f"tenant: {args.campaigns:,} campaigns x {args.days} days, {rows:,} fact rows")
    print(f"generated in {generated:.0f} s, ingested in {ingested:.0f} s ({rows / ingested:,.0f} rows/s)")
    print(f"GenerateInsights (stories on), {args.calls} calls after a warm-up, {found} insights each:")
    print(
        f"p50 {percentile(seconds, 0.5):.2f} s  p99 {percentile(seconds, 0.99):.2f} s  "
        f"mean {statistics.fmean(seconds):.2f} s  min {min(seconds):.2f} s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
