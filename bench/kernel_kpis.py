"""Group-by sums + KPIs: the kernel's `aggregate` against polars, pyarrow and duckdb.

Ten million ad-level rows (10 k campaigns x 365 days, ~2.7 rows per campaign and day) in
shuffled order, keyed by (campaign_id: utf8, date: date32), measures as int64 micros. Every
engine computes the same table (the five sums and the seven KPIs, null where the denominator is
zero), the outputs are checked against each other, then each engine is timed on the same thread
count. Beside them runs the random-update floor: one native loop on one thread adding each row's
measures into a preallocated array at its (campaign, day) slot, the codes given; what a group-by
costs once hashing, branching, allocation and Arrow are gone. Run:
`.venv/bin/python bench/kernel_kpis.py [--rows N] [--repeat R] [--threads T]`.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable

THREADS_DEFAULT = 2


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=10_000_000, help="rows of input (default 10 M)")
    parser.add_argument("--repeat", type=int, default=5, help="timed runs per engine (default 5)")
    parser.add_argument("--threads", type=int, default=THREADS_DEFAULT, help="threads per engine (default 2)")
    parser.add_argument("--seed", type=int, default=7)
    return parser.parse_args()


ARGS = parse_args()
# Thread counts must be fixed before the engines are imported.
os.environ["POLARS_MAX_THREADS"] = str(ARGS.threads)
os.environ["ADPULSE_KERNEL_THREADS"] = str(ARGS.threads)

import duckdb  # noqa: E402
import numpy as np  # noqa: E402
import polars as pl  # noqa: E402
import pyarrow as pa  # noqa: E402
import pyarrow.compute as pc  # noqa: E402

from adpulse import _kernel  # noqa: E402

KEYS = ["campaign_id", "date"]
MEASURES = ["impressions", "clicks", "cost_micros", "conversions_micros", "revenue_micros"]
KPIS = list(_kernel.KPI_COLUMNS)
CAMPAIGNS = 10_000
DAYS = 365
FIRST_DAY = 20_089  # 2025-01-01


def make_table(rows: int, seed: int) -> tuple[pa.Table, np.ndarray]:
    """Shuffled ad-level rows, and each row's (campaign, day) slot; zero clicks and conversions
    are common so KPIs have nulls."""
    rng = np.random.default_rng(seed)
    pair = rng.integers(0, CAMPAIGNS * DAYS, rows)
    campaign = (pair // DAYS).astype(np.int32)
    day = (pair % DAYS + FIRST_DAY).astype(np.int32)
    names = pa.array([f"cmp-{i:06d}" for i in range(CAMPAIGNS)], pa.string())
    campaign_id = pa.DictionaryArray.from_arrays(pa.array(campaign), names).cast(pa.string())
    impressions = rng.integers(0, 5_000, rows)
    clicks = np.where(rng.random(rows) < 0.3, 0, rng.integers(0, 200, rows))
    cost = rng.integers(0, 50_000_000, rows)
    conversions = np.where(rng.random(rows) < 0.5, 0, rng.integers(0, 5_000_000, rows))
    revenue = rng.integers(0, 200_000_000, rows)
    table = pa.table(
        {
            "campaign_id": campaign_id,
            "date": pa.array(day, pa.int32()).cast(pa.date32()),
            "impressions": impressions,
            "clicks": clicks,
            "cost_micros": cost,
            "conversions_micros": conversions,
            "revenue_micros": revenue,
        }
    )
    return table, pair.astype(np.uint32)


def run_kernel(table: pa.Table) -> pa.Table:
    return _kernel.aggregate(table, KEYS)


def polars_query(frame: pl.DataFrame) -> pl.LazyFrame:
    def ratio(numerator: pl.Expr, denominator: str) -> pl.Expr:
        den = pl.col(denominator)
        return pl.when(den != 0).then(numerator / den.cast(pl.Float64)).otherwise(None)

    cost = pl.col("cost_micros").cast(pl.Float64)
    return (
        frame.lazy()
        .group_by(KEYS)
        .agg([pl.col(m).sum() for m in MEASURES])
        .with_columns(
            ratio(pl.col("clicks").cast(pl.Float64), "impressions").alias("ctr"),
            ratio(cost / 1e6, "clicks").alias("cpc"),
            ratio(cost / 1e3, "impressions").alias("cpm"),
            ratio(pl.col("conversions_micros").cast(pl.Float64) / 1e6, "clicks").alias("cvr"),
            ratio(cost, "conversions_micros").alias("cpa"),
            ratio(pl.col("revenue_micros").cast(pl.Float64), "cost_micros").alias("roas"),
            ratio((pl.col("revenue_micros") - pl.col("cost_micros")).cast(pl.Float64), "cost_micros").alias(
                "roi"
            ),
        )
    )


def run_pyarrow(table: pa.Table) -> pa.Table:
    sums = table.group_by(KEYS, use_threads=True).aggregate([(m, "sum") for m in MEASURES])
    sums = sums.rename_columns([name.removesuffix("_sum") for name in sums.column_names])
    col = {m: sums[m] for m in MEASURES}
    as_float = {m: pc.cast(col[m], pa.float64()) for m in MEASURES}

    def ratio(numerator: pa.ChunkedArray, denominator: str) -> pa.ChunkedArray:
        return pc.if_else(pc.equal(col[denominator], 0), None, pc.divide(numerator, as_float[denominator]))

    cost = as_float["cost_micros"]
    kpis = {
        "ctr": ratio(as_float["clicks"], "impressions"),
        "cpc": ratio(pc.divide(cost, 1e6), "clicks"),
        "cpm": ratio(pc.divide(cost, 1e3), "impressions"),
        "cvr": ratio(pc.divide(as_float["conversions_micros"], 1e6), "clicks"),
        "cpa": ratio(cost, "conversions_micros"),
        "roas": ratio(as_float["revenue_micros"], "cost_micros"),
        "roi": ratio(
            pc.cast(pc.subtract(col["revenue_micros"], col["cost_micros"]), pa.float64()), "cost_micros"
        ),
    }
    for name, values in kpis.items():
        sums = sums.append_column(name, values)
    return sums


DUCKDB_SQL = """
SELECT *,
    clicks::DOUBLE / NULLIF(impressions, 0) AS ctr,
    (cost_micros::DOUBLE / 1e6) / NULLIF(clicks, 0) AS cpc,
    (cost_micros::DOUBLE / 1e3) / NULLIF(impressions, 0) AS cpm,
    (conversions_micros::DOUBLE / 1e6) / NULLIF(clicks, 0) AS cvr,
    cost_micros::DOUBLE / NULLIF(conversions_micros, 0) AS cpa,
    revenue_micros::DOUBLE / NULLIF(cost_micros, 0) AS roas,
    (revenue_micros - cost_micros)::DOUBLE / NULLIF(cost_micros, 0) AS roi
FROM (
    SELECT campaign_id, date,
        sum(impressions)::BIGINT AS impressions, sum(clicks)::BIGINT AS clicks,
        sum(cost_micros)::BIGINT AS cost_micros, sum(conversions_micros)::BIGINT AS conversions_micros,
        sum(revenue_micros)::BIGINT AS revenue_micros
    FROM facts GROUP BY campaign_id, date
)
"""


def canonical(result: pa.Table) -> pa.Table:
    """The result's columns in one order, rows sorted by key, for comparison."""
    return result.select([*KEYS, *MEASURES, *KPIS]).sort_by([(k, "ascending") for k in KEYS])


def check_same(name: str, got: pa.Table, expected: pa.Table) -> None:
    got, expected = canonical(got), canonical(expected)
    if got.num_rows != expected.num_rows:
        sys.exit(f"{name}: {got.num_rows} groups, the kernel has {expected.num_rows}")
    for column in [*KEYS, *MEASURES]:
        if not got[column].cast(expected[column].type).equals(expected[column]):
            sys.exit(f"{name}: column {column} differs from the kernel's")
    for column in KPIS:
        a, b = got[column].to_numpy(zero_copy_only=False), expected[column].to_numpy(zero_copy_only=False)
        if not np.array_equal(np.isnan(a), np.isnan(b)):
            sys.exit(f"{name}: {column} is null in other groups than the kernel's")
        if not np.allclose(a, b, rtol=1e-12, atol=0, equal_nan=True):
            sys.exit(f"{name}: {column} differs from the kernel's by more than 1e-12")


def floor_times(table: pa.Table, slots: np.ndarray, expected: pa.Table, repeat: int) -> list[float]:
    """The floor's own loop times, after checking that it adds up to the kernel's sums."""
    floor_input = pa.table({"slot": slots, **{m: table[m] for m in MEASURES}})
    times = []
    for _ in range(repeat + 1):
        seconds, totals = _kernel._random_update_floor(floor_input, CAMPAIGNS * DAYS)
        times.append(seconds)
    if totals != [pc.sum(expected[m]).as_py() for m in MEASURES]:
        sys.exit("floor: its totals differ from the kernel's")
    return times[1:]  # the first is the warm-up


def timed(run: Callable[[], object], repeat: int) -> list[float]:
    run()  # warm-up: caches, thread pools, page faults of the first allocation
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return times


def main() -> None:
    pa.set_cpu_count(ARGS.threads)
    con = duckdb.connect()
    con.execute(f"SET threads={ARGS.threads}")
    print(f"making {ARGS.rows:,} rows ...", flush=True)
    table, slots = make_table(ARGS.rows, ARGS.seed)
    frame = pl.from_arrow(table)
    assert isinstance(frame, pl.DataFrame)
    con.register("facts", table)
    query = polars_query(frame)

    engines: dict[str, Callable[[], pa.Table]] = {
        "kernel": lambda: run_kernel(table),
        "polars (lazy)": lambda: query.collect().to_arrow(),
        "pyarrow": lambda: run_pyarrow(table),
        "duckdb": lambda: con.sql(DUCKDB_SQL).to_arrow_table(),
    }
    reference = engines["kernel"]()
    print(f"{reference.num_rows:,} groups; checking that every engine agrees ...", flush=True)
    for name, run in engines.items():
        check_same(name, run(), reference)

    results = {name: timed(run, ARGS.repeat) for name, run in engines.items()}
    results["floor (1 thread, codes given)"] = floor_times(table, slots, reference, ARGS.repeat)
    kernel_best = min(results["kernel"])
    print(f"\n{ARGS.rows:,} rows, {ARGS.threads} threads, best and median of {ARGS.repeat} runs\n")
    print("| engine | best s | median s | M rows/s (best) | time / kernel's |")
    print("|---|---:|---:|---:|---:|")
    for name, times in results.items():
        best = min(times)
        print(
            f"| {name} | {best:.3f} | {statistics.median(times):.3f} | {ARGS.rows / best / 1e6:.1f} "
            f"| {best / kernel_best:.2f}x |"
        )
    floor_best = min(results["floor (1 thread, codes given)"])
    polars_best = min(results["polars (lazy)"])
    print(f"\npolars / kernel: {polars_best / kernel_best:.2f}x (goal >= 3)")
    print(f"kernel / floor: {kernel_best / floor_best:.2f}x (goal <= 1.3)")


if __name__ == "__main__":
    main()
