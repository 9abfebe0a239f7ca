"""Evidence beyond one day of one metric: a volume judged with its rate, and runs of days, at the
options each sensitivity passes (README, "Anomaly detection")."""

from __future__ import annotations

import datetime as dt
import random

import pyarrow as pa

from adpulse import _kernel
from adpulse.server.domain.analytics import Metric, Sensitivity
from tests.support import addata

START = dt.date(2026, 1, 5)
DAYS = 56
MEASURES = ("impressions", "clicks", "cost_micros", "conversions_micros", "revenue_micros")


def _campaign(seed: int, noise: float, change: dict[int, tuple[float, float, float]]) -> pa.Table:
    """A campaign whose traffic moves `noise` a day (log-sd) with ~60 orders of ~50 a day; on
    day d, `change[d]` multiplies (traffic, cost per click, order value)."""
    rng = random.Random(seed)
    rows = []
    for d in range(DAYS):
        traffic, cpc, value = change.get(d, (1.0, 1.0, 1.0))
        clicks = round(2000 * rng.lognormvariate(0, noise) * traffic)
        orders = round(clicks * 0.03 * rng.lognormvariate(0, 0.05))
        order_value = 50 * rng.lognormvariate(0, 0.05) * value
        revenue = round(orders * order_value * 1e6)
        rows.append([clicks * 40, clicks, round(clicks * 1e6 * cpc), orders * 1_000_000, revenue])
    return pa.table(
        {
            "campaign_id": ["c"] * DAYS,
            "date": pa.array([START + dt.timedelta(days=d) for d in range(DAYS)], pa.date32()),
            "currency": ["USD"] * DAYS,
            **{m: pa.array([r[k] for r in rows], pa.int64()) for k, m in enumerate(MEASURES)},
        }
    )


def _flagged(sums: pa.Table, metric: Metric, first: int, **change: float) -> list[dt.date]:
    options = {**Sensitivity.MEDIUM.detection_options(metric), **change}
    end = START + dt.timedelta(days=DAYS - 1)
    points, _ = _kernel.detect_anomalies(
        sums, ["campaign_id"], metric.value, START + dt.timedelta(days=first), end, **options
    )
    return points["date"].to_pylist()


def test_revenue_is_judged_with_its_order_value() -> None:
    spike = _campaign(1, 0.2, {DAYS - 1: (1.0, 1.0, 3.5)})  # order values x3.5, orders as usual
    day = START + dt.timedelta(days=DAYS - 1)

    assert _flagged(spike, Metric.REVENUE, DAYS - 1) == [day]
    # Revenue alone moves 20 % a day with the traffic: this day is inside its own band.
    assert _flagged(spike, Metric.REVENUE, DAYS - 1, rate_threshold=0.0) == []


def test_a_cheaper_rate_is_no_revenue_incident_when_revenue_did_not_move() -> None:
    surge = _campaign(2, 0.2, {DAYS - 1: (1.0, 2.5, 1.0)})  # CPC x2.5: ROAS falls, revenue not

    assert _flagged(surge, Metric.REVENUE, DAYS - 1) == []
    assert _flagged(surge, Metric.CPC, DAYS - 1) == [START + dt.timedelta(days=DAYS - 1)]


def test_days_that_lean_the_same_way_are_anomalous_together() -> None:
    days = range(DAYS - 4, DAYS)
    spike = _campaign(3, 0.15, dict.fromkeys(days, (2.6, 1.0, 1.0)))  # spend x2.6 for four days
    dates = [START + dt.timedelta(days=d) for d in days]

    # No day is anomalous alone (about 6.4 deviations a day, the band is 7.5); together they are.
    assert _flagged(spike, Metric.COST, DAYS - 4) == dates
    assert _flagged(spike, Metric.COST, DAYS - 4, run_threshold=0.0) == []
    # A lasting budget raise by half leans every day as far, but moved less than the run factor.
    raised = _campaign(3, 0.05, dict.fromkeys(days, (1.5, 1.0, 1.0)))
    assert _flagged(raised, Metric.COST, DAYS - 4, threshold=20.0) == []
    assert _flagged(raised, Metric.COST, DAYS - 4, threshold=20.0, run_factor=1.0) == dates


def test_each_sensitivity_flags_a_subset_of_the_next() -> None:
    """Low flags only days medium flags, medium only days high flags: every evidence (a day, its
    rate, a run, the cold start) widens with the band, on hard data with incidents."""
    end = dt.date(2026, 11, 15)
    counts = [0, 0, 0]
    for seed in (3, 4):
        text, _, account = addata.dataset(seed, end=end, campaign_count=12)
        sums = addata.daily_sums(text)
        for metric in (Metric.COST, Metric.CONVERSIONS, Metric.CPC, Metric.CTR, Metric.REVENUE):
            flagged = []
            for sensitivity in (Sensitivity.LOW, Sensitivity.MEDIUM, Sensitivity.HIGH):
                points, _ = _kernel.detect_anomalies(
                    sums, ["campaign_id"], metric.value, account.dates[0], end,
                    **sensitivity.detection_options(metric),
                )  # fmt: skip
                flagged.append(
                    set(zip(points["campaign_id"].to_pylist(), points["date"].to_pylist(), strict=True))
                )
            assert flagged[0] <= flagged[1] <= flagged[2], (seed, metric)
            counts = [c + len(f) for c, f in zip(counts, flagged, strict=True)]
    assert counts[0] < counts[1] < counts[2]
