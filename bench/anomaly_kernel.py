"""Seasonal anomaly detection: the kernel against numpy/pandas and polars, same method, one process.

The method (the kernel's noise-aware `seasonal` on a count metric, clicks): on the log scale
y = ln(clicks + 0.5), for every day, the center is the median of y on the same weekday over the
last four weeks plus the median residual of the trailing 28 days; the deviation is the residuals'
MAD (each side: the larger of it and the spread of that half of the residuals) beyond their mean
Poisson variance on that scale (e/(e+0.5)² at each window day's seasonal expectation e), plus the
day's own, at least 0.08; the band is ±4 deviations around the center,
never narrower than 5 clicks. Input: `--series` daily series (100 k by default) x 365 days of
clicks with weekly seasonality, a trend and noise, as the store hands them over (one row per
series and day). numpy/pandas and polars compute the same expected values and flags
vectorised (median windows through `sliding_window_view` + `nanmedian` for numpy, list columns
for polars); the script checks that their flags equal the kernel's, then times each.

Run: `.venv/bin/python bench/anomaly_kernel.py [--series N] [--baseline-series M] [--threads T]`.
numpy and polars are timed on `--baseline-series` series (default: all) and reported per series.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import time

THREADS_DEFAULT = 2


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--series", type=int, default=100_000)
    parser.add_argument("--baseline-series", type=int, default=0, help="series numpy/polars run on (0: all)")
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--threads", type=int, default=THREADS_DEFAULT)
    parser.add_argument("--seed", type=int, default=7)
    return parser.parse_args()


ARGS = parse_args()
os.environ["POLARS_MAX_THREADS"] = str(ARGS.threads)
os.environ["ADPULSE_KERNEL_THREADS"] = str(ARGS.threads)

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import polars as pl  # noqa: E402
import pyarrow as pa  # noqa: E402

from adpulse import _kernel  # noqa: E402

FIRST = dt.date(2025, 1, 1)
WINDOW, WEEKS, Z, FLOOR, RELATIVE, OFFSET = 28, 4, 4.0, 5.0, 0.08, 0.5
CHUNK = 4000


def make_clicks(series: int, days: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    base = rng.uniform(20, 2000, (series, 1))
    weekday = np.array([1.0, 1.03, 1.02, 1.0, 0.95, 0.8, 0.78])[(np.arange(days) + FIRST.weekday()) % 7]
    trend = np.exp(rng.uniform(-0.002, 0.003, (series, 1)) * np.arange(days))
    level = base * weekday * trend * rng.lognormal(0, 0.08, (series, days))
    return rng.poisson(level).astype(np.float64)


def to_table(clicks: np.ndarray) -> pa.Table:
    series, days = clicks.shape
    zeros = pa.array(np.zeros(series * days, dtype=np.int64))
    return pa.table(
        {
            "series": pa.array(np.repeat(np.arange(series, dtype=np.int32), days)),
            "date": pa.array(
                np.tile(np.arange(days, dtype=np.int32) + (FIRST - dt.date(1970, 1, 1)).days, series)
            ).cast(pa.date32()),
            "impressions": zeros,
            "clicks": pa.array(clicks.reshape(-1).astype(np.int64)),
            "cost_micros": zeros,
            "conversions_micros": zeros,
            "revenue_micros": zeros,
        }
    )


def run_kernel(table: pa.Table, days: int) -> np.ndarray:
    """The kernel judges every day but returns the anomalous ones, as the service asks it to;
    the flags are laid out from those."""
    points, _ = _kernel.detect_anomalies(
        table, ["series"], "clicks", FIRST, FIRST + dt.timedelta(days=days - 1), method="seasonal",
        threshold=Z, window=WINDOW,
    )  # fmt: skip
    flags = np.zeros((table.num_rows // days, days), dtype=bool)
    day = points["date"].cast(pa.int32()).to_numpy() - (FIRST - dt.date(1970, 1, 1)).days
    flags[points["series"].to_numpy(), day] = True
    return flags


def poisson_log_variance(seasonal: np.ndarray) -> np.ndarray:
    """Poisson variance on the log scale at the seasonal expectation (NaN where there is none)."""
    e = np.exp(seasonal) - OFFSET
    return np.abs(e) / (e + OFFSET) ** 2


def band_flags(
    x: np.ndarray, center: np.ndarray, spreads: tuple[np.ndarray, np.ndarray], sampling: np.ndarray
) -> np.ndarray:
    """The noise-aware band of the kernel, vectorised: ±Z deviations on the log scale, each
    side's from its spread (the larger of the MAD and that half's own)."""
    e = np.exp(center) - OFFSET
    own = np.abs(e) / (e + OFFSET) ** 2
    sd_below, sd_above = (
        np.maximum(np.sqrt(np.maximum(spread**2 - sampling, 0) + own), RELATIVE) for spread in spreads
    )
    lower = np.exp(center - Z * sd_below) - OFFSET
    upper = np.exp(center + Z * sd_above) - OFFSET
    below = np.maximum(e - lower, FLOOR)
    above = np.maximum(upper - e, FLOOR)
    return (x < e - below) | (x > e + above)


def run_numpy(clicks: np.ndarray) -> np.ndarray:
    out = np.zeros(clicks.shape, dtype=bool)
    view = np.lib.stride_tricks.sliding_window_view
    for at in range(0, clicks.shape[0], CHUNK):
        x = clicks[at : at + CHUNK]
        y = np.log(x + OFFSET)
        n, days = x.shape
        lagged = np.full((WEEKS, n, days), np.nan)
        for k in range(1, WEEKS + 1):
            lagged[k - 1, :, 7 * k :] = y[:, : days - 7 * k]
        with np.errstate(all="ignore"):
            import warnings

            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                seasonal = np.nanmedian(lagged, axis=0)
                residual = y - seasonal

                def trailing(v: np.ndarray) -> np.ndarray:
                    """Windows ending the day before: pad 28 NaNs in front, drop the last."""
                    padded = np.concatenate([np.full((v.shape[0], WINDOW), np.nan), v[:, :-1]], axis=1)
                    return view(padded, WINDOW, axis=1)  # (n, days, 28)

                windows = trailing(residual)
                median = np.nanmedian(windows, axis=2)
                mad = 1.4826 * np.nanmedian(np.abs(windows - median[:, :, None]), axis=2)
                count = np.sum(~np.isnan(windows), axis=2)
                spreads = side_spreads(np.sort(windows, axis=2), count, median, mad)
                sampling = np.nan_to_num(np.nanmean(trailing(poisson_log_variance(seasonal)), axis=2))
        center = seasonal + median
        judged = (count >= 7) & ~np.isnan(center)
        out[at : at + CHUNK] = judged & band_flags(x, np.nan_to_num(center), spreads, sampling)
    return out


def side_spreads(
    ordered: np.ndarray, count: np.ndarray, median: np.ndarray, mad: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Each side's spread (windows sorted, NaNs last): the larger of the MAD and 1.4826 times
    the median distance from the median of the lower half, and of the upper half."""
    half = count // 2

    def middle(first: np.ndarray) -> np.ndarray:
        at = lambda i: np.take_along_axis(ordered, np.clip(i, 0, WINDOW - 1)[..., None], axis=2)[..., 0]  # noqa: E731
        return (at(first + (half - 1) // 2) + at(first + half // 2)) / 2

    below = np.where(half > 0, median - middle(np.zeros_like(half)), 0.0)
    above = np.where(half > 0, middle(count - half) - median, 0.0)
    return tuple(np.nan_to_num(np.maximum(mad, 1.4826 * np.maximum(v, 0))) for v in (below, above))  # type: ignore[return-value]


def run_pandas_median(clicks: np.ndarray) -> None:
    """The trailing medians through pandas' rolling window (for scale: its MAD needs apply)."""
    frame = pd.DataFrame(clicks[: min(CHUNK, clicks.shape[0])].T)
    frame.rolling(WINDOW, min_periods=7).median()


def run_polars(clicks: np.ndarray) -> np.ndarray:
    out = np.zeros(clicks.shape, dtype=bool)
    for at in range(0, clicks.shape[0], CHUNK):
        x = clicks[at : at + CHUNK]
        n, days = x.shape
        frame = pl.DataFrame({"s": np.repeat(np.arange(n), days), "y": np.log(x.reshape(-1) + OFFSET)})
        lags = [pl.col("y").shift(7 * k).over("s") for k in range(1, WEEKS + 1)]
        frame = frame.with_columns(seasonal=pl.concat_list(lags).list.drop_nulls().list.median())
        e = pl.col("seasonal").exp() - OFFSET
        frame = frame.with_columns(r=pl.col("y") - pl.col("seasonal"), v=e.abs() / (e + OFFSET) ** 2)
        sampling = pl.concat_list([pl.col("v").shift(k).over("s") for k in range(1, WINDOW + 1)])
        window = pl.concat_list(
            [pl.col("r").shift(k).over("s") for k in range(1, WINDOW + 1)]
        ).list.drop_nulls()
        frame = frame.with_columns(w=window)
        frame = frame.with_columns(
            median=pl.col("w").list.median(),
            count=pl.col("w").list.len(),
            sampling=sampling.list.drop_nulls().list.mean().fill_null(0.0),
        )
        frame = frame.with_columns(
            mad=pl.col("w").list.eval((pl.element() - pl.element().median()).abs()).list.median() * 1.4826,
            ordered=pl.col("w").list.sort(),
            half=pl.col("count") // 2,
        )
        frame = frame.with_columns(
            below=(pl.col("median") - pl.col("ordered").list.head(pl.col("half")).list.median()) * 1.4826,
            above=(pl.col("ordered").list.tail(pl.col("half")).list.median() - pl.col("median")) * 1.4826,
        )
        center = (frame["seasonal"] + frame["median"]).to_numpy().reshape(n, days)
        count = frame["count"].to_numpy().reshape(n, days)
        sampling = frame["sampling"].to_numpy().reshape(n, days)
        judged = (count >= 7) & ~np.isnan(center)
        mad = frame["mad"].to_numpy()
        spreads = tuple(
            np.nan_to_num(np.maximum(mad, np.maximum(frame[c].to_numpy(), 0))).reshape(n, days)
            for c in ("below", "above")
        )
        out[at : at + CHUNK] = judged & band_flags(x, np.nan_to_num(center), spreads, sampling)
    return out


def timed(run, *args):  # type: ignore[no-untyped-def]
    started = time.perf_counter()
    result = run(*args)
    return result, time.perf_counter() - started


def main() -> int:
    clicks = make_clicks(ARGS.series, ARGS.days, ARGS.seed)
    table = to_table(clicks)
    baseline = clicks[: ARGS.baseline_series or ARGS.series]
    small = to_table(clicks[:2000])
    # Same method: on a sample, numpy's and polars' flags equal the kernel's.
    sample = run_kernel(small, ARGS.days)
    for name, run in (("numpy", run_numpy), ("polars", run_polars)):
        other = run(clicks[:2000])
        differ = int((other != sample).sum())
        assert differ <= sample.size * 1e-5, f"{name} differs from the kernel on {differ} points"
    run_kernel(small, ARGS.days)  # warm-up
    kernel_flags, kernel_s = timed(run_kernel, table, ARGS.days)
    _, numpy_s = timed(run_numpy, baseline)
    _, polars_s = timed(run_polars, baseline)
    _, pandas_s = timed(run_pandas_median, baseline)
    n_base = baseline.shape[0]
    rate = {"kernel": ARGS.series / kernel_s, "numpy/pandas": n_base / numpy_s, "polars": n_base / polars_s}
    print(f"{ARGS.series:,} series x {ARGS.days} days, {ARGS.threads} threads")
    print(f"numpy and polars timed on {n_base:,} series")
    flagged = int(kernel_flags.sum())
    print(f"anomalies flagged by the kernel: {flagged:,} ({kernel_flags.mean():.4%} of days)")
    print("| engine | series | seconds | series/s | kernel's speed / engine's |")
    print("|---|---:|---:|---:|---:|")
    for name, n, seconds in (("kernel", ARGS.series, kernel_s), ("numpy/pandas", n_base, numpy_s),
                             ("polars", n_base, polars_s)):  # fmt: skip
        print(f"| {name} | {n:,} | {seconds:.2f} | {rate[name]:,.0f} | {rate['kernel'] / rate[name]:.1f}x |")
    print(f"(pandas' rolling median alone, {min(CHUNK, n_base):,} series: {pandas_s:.2f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
