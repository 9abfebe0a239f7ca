"""Detection's output pinned: a faster kernel must judge every day exactly as the one that wrote
`golden/detection.parquet` did (same flags, methods and severities; every number within 1e-9
relative), on hard generated accounts and on the edge cases of a series' life (all zeros, a
launch from zeros or from nothing, a few days of data, gaps, a stop, undefined ratios, a flat
history, a spike).

The file is written by the kernel it pins: `.venv/bin/python -m tests.kernel.test_detection_golden`
rewrites it, which is only right when detection's results are meant to change.
"""

from __future__ import annotations

import datetime as dt
import math
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from adpulse import _kernel
from adpulse.server.domain.analytics import Metric, Sensitivity
from tests.support import addata

GOLDEN = Path(__file__).parent / "golden" / "detection.parquet"
START = dt.date(2026, 1, 5)
END = dt.date(2026, 4, 30)
MEASURES = ("impressions", "clicks", "cost_micros", "conversions_micros", "revenue_micros")
FLOATS = ("expected", "lower", "upper", "score")
EXACT = ("campaign_id", "date", "anomaly", "direction", "severity", "method", "provisional")
CLASSIC = ("seasonal", "cold_start", "mad", "zscore", "week_over_week")


def _edge_cases() -> pa.Table:
    """Series at the edges of what detection meets, over the golden range."""
    rng = random.Random(14)
    days = (END - START).days + 1
    rows: list[tuple[str, int, list[int]]] = []

    def steady(d: int, level: float) -> list[int]:
        clicks = max(0, round(level * rng.lognormvariate(0, 0.15)))
        orders = round(clicks * 0.04 * rng.lognormvariate(0, 0.3))
        return [clicks * 30, clicks, clicks * 700_000, orders * 1_000_000, orders * 45_000_000]

    for d in range(days):
        rows.append(("zeros", d, [0] * 5))
        rows.append(("launch_from_zeros", d, steady(d, 300) if d >= 50 else [0] * 5))
        if d >= 80:
            rows.append(("launch_from_nothing", d, steady(d, 120)))
        if d < 5:
            rows.append(("five_days", d, steady(d, 200)))
        if d < 30:
            rows.append(("thirty_days", d, steady(d, 50)))
        if d % 3 != 1:
            rows.append(("gaps", d, steady(d, 80)))
        if d < 70:
            rows.append(("stops", d, steady(d, 400)))
        rows.append(("flat", d, [1000, 100, 50_000_000, 5_000_000, 250_000_000]))
        spike = steady(d, 150)
        if d in (60, 61, 95):
            spike = [v * 6 for v in spike]
        rows.append(("spikes", d, spike))
        # Clicks without impressions, orders without clicks, revenue without cost: the ratios of
        # those days have no denominator.
        odd = steady(d, 20)
        if d % 5 == 0:
            odd[0] = 0
        if d % 7 == 0:
            odd[1], odd[2] = 0, 0
        rows.append(("undefined_ratios", d, odd))
        rows.append(("tiny", d, [rng.randint(0, 3), rng.randint(0, 1), 0, 0, 0]))
    return pa.table(
        {
            "campaign_id": [r[0] for r in rows],
            "date": pa.array([START + dt.timedelta(days=r[1]) for r in rows], pa.date32()),
            "currency": ["USD"] * len(rows),
            **{m: pa.array([r[2][k] for r in rows], pa.int64()) for k, m in enumerate(MEASURES)},
        }
    )


def _accounts() -> pa.Table:
    text, _, _ = addata.dataset(3, end=END, days=(END - START).days + 1, campaign_count=12)
    return addata.daily_sums(text)


def _cases() -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(case name, metric, options): every metric at medium (rates and runs on, `auto`), and the
    other methods on a volume, spend, a rate and a money ratio."""
    for metric in Metric:
        yield f"medium/{metric.value}", metric.value, dict(Sensitivity.MEDIUM.detection_options(metric))
    for method in CLASSIC:
        for name in ("clicks", "cost", "ctr", "roas"):
            yield f"{method}/{name}", name, {"method": method, "threshold": 3.0}


def _judged() -> pa.Table:
    parts = []
    for data_name, data in (("accounts", _accounts()), ("edges", _edge_cases())):
        for case, metric, options in _cases():
            points, incidents = _kernel.detect_anomalies(
                data, ["campaign_id"], metric, START, END, all_points=True, **options
            )  # fmt: skip
            points = pa.table(points).select(list(EXACT + FLOATS))
            # Incidents are runs of the points' flags: their peak scores are what is left to pin.
            peaks = {(r["campaign_id"], r["start"]): r["peak_score"] for r in pa.table(incidents).to_pylist()}
            peak = [
                peaks.get((c, d))
                for c, d in zip(points["campaign_id"].to_pylist(), points["date"].to_pylist(), strict=True)
            ]
            parts.append(
                points.append_column("case", pa.array([f"{data_name}/{case}"] * points.num_rows))
                .append_column("peak_score", pa.array(peak, pa.float64()))
                .cast(
                    pa.schema(
                        [
                            f.with_type(pa.string()) if f.name in ("direction", "method") else f
                            for f in points.schema
                        ]
                        + [pa.field("case", pa.string()), pa.field("peak_score", pa.float64())]
                    )
                )
            )
    return pa.concat_tables(parts)


def _close(a: float | None, b: float | None) -> bool:
    if a is None or b is None:
        return a is b
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return a == b or math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-300)


def test_detection_judges_every_day_as_the_pinned_kernel() -> None:
    golden = pq.read_table(GOLDEN)
    now = _judged()

    assert now.num_rows == golden.num_rows
    assert now["case"].to_pylist() == golden["case"].to_pylist()
    for name in EXACT:
        assert now[name].to_pylist() == golden[name].to_pylist(), name
    cases = golden["case"].to_pylist()
    for name in (*FLOATS, "peak_score"):
        differ = [
            (cases[i], i, a, b)
            for i, (a, b) in enumerate(zip(now[name].to_pylist(), golden[name].to_pylist(), strict=True))
            if not _close(a, b)
        ]
        assert not differ, f"{name}: {len(differ)} differ, first {differ[:3]}"
    # The pinned set reaches what it is meant to: flags of every method, from both data sets.
    flagged = {c for c, a in zip(cases, golden["anomaly"].to_pylist(), strict=True) if a}
    assert len(flagged) > 30
    assert {m for m in golden["method"].to_pylist() if m} == set(CLASSIC)


if __name__ == "__main__":
    GOLDEN.parent.mkdir(exist_ok=True)
    pq.write_table(
        _judged(),
        GOLDEN,
        compression="zstd",
        compression_level=19,
        use_byte_stream_split=[*FLOATS, "peak_score"],
    )
