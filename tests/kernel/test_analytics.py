"""The kernel's analytics against the plain-Python reference (hypothesis): trends, detection,
change attribution; and the contracts that hold whatever the data."""

from __future__ import annotations

import datetime as dt
import math
from fractions import Fraction

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adpulse import _kernel
from tests.kernel import analytics_reference as ref

START = dt.date(2026, 1, 5)  # a Monday
RATIOS = ("ctr", "cpc", "cpm", "cvr", "cpa", "roas", "roi")


def close(a: float | None, b: float | None, tol: float = 1e-9) -> bool:
    if a is None or b is None:
        return a is b
    return math.isclose(a, b, rel_tol=tol, abs_tol=tol)


def table(rows: list[tuple[str, dt.date, list[int]]], currency: str = "USD") -> pa.Table:
    return pa.table(
        {
            "campaign_id": [r[0] for r in rows],
            "date": pa.array([r[1] for r in rows], pa.date32()),
            "currency": [currency] * len(rows),
            **{m: pa.array([r[2][k] for r in rows], pa.int64()) for k, m in enumerate(ref.MEASURES)},
        }
    )


sums = st.tuples(
    st.integers(0, 5000),
    st.integers(0, 300),
    st.integers(0, 50_000_000),
    st.integers(0, 30_000_000),
    st.integers(0, 200_000_000),
).map(list)


@st.composite
def daily(draw: st.DrawFn, min_days: int = 1, max_days: int = 70) -> list[list[int]]:
    """A series whose first day has data, with realistic level, weekly shape and gaps."""
    days = draw(st.integers(min_days, max_days))
    base = draw(st.floats(50, 5000))
    ctr = draw(st.floats(0.001, 0.2))
    noise = draw(st.lists(st.floats(0.5, 1.6), min_size=days, max_size=days))
    out = []
    for d in range(days):
        impressions = int(base * noise[d] * (0.7 if d % 7 >= 5 else 1.0))
        if d and draw(st.booleans()) and draw(st.booleans()) and draw(st.booleans()):
            impressions = 0  # a gap: no delivery that day
        clicks = int(impressions * ctr)
        cost = clicks * draw(st.integers(200_000, 2_000_000))
        conversions = draw(st.integers(0, max(clicks, 1))) * 250_000
        revenue = conversions * draw(st.integers(5, 200))
        out.append([impressions, clicks, cost, conversions, revenue])
    return out


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    series=daily(min_days=1, max_days=70),
    metric=st.sampled_from(ref.ADDITIVE + RATIOS),
    method=st.sampled_from(("auto", "zscore", "mad", "seasonal", "week_over_week", "cold_start")),
    threshold=st.sampled_from((3.0, 4.0)),
    window=st.integers(7, 30),
    evaluate=st.integers(0, 69),
)
def test_detection_equals_the_reference(  # noqa: PLR0917 - one argument per drawn value
    series: list[list[int]], metric: str, method: str, threshold: float, window: int, evaluate: int
) -> None:
    evaluate = min(evaluate, len(series) - 1)
    rows = [("c", START + dt.timedelta(days=d), s) for d, s in enumerate(series) if d == 0 or any(s)]
    end = START + dt.timedelta(days=len(series) - 1)
    points, _ = _kernel.detect_anomalies(
        table(rows),
        ["campaign_id"],
        metric,
        START + dt.timedelta(days=evaluate),
        end,
        method=method,
        threshold=threshold,
        change_threshold=0.6,
        window=window,
        all_points=True,
    )
    want = ref.detect(
        series, metric, method, evaluate, threshold=threshold, change_threshold=0.6, window=window
    )
    got = points.to_pylist()
    assert len(got) == len(want)
    for day, (row, expected) in enumerate(zip(got, want, strict=True), start=evaluate):
        assert row["date"] == START + dt.timedelta(days=day)
        if expected is None:
            assert row["expected"] is None
            continue
        _, e, lower, upper, anomaly, used = expected
        assert close(row["expected"], e), (row, expected)
        assert close(row["lower"], lower) and close(row["upper"], upper), (row, expected)
        assert row["method"] == used
        borderline = math.isclose(abs(row["observed"] - e), upper - e, rel_tol=1e-9)
        assert borderline or row["anomaly"] == anomaly, (row, expected)


@settings(max_examples=80, deadline=None)
@given(
    slices=st.dictionaries(
        st.sampled_from("abcdef"),
        st.tuples(st.booleans(), st.booleans(), sums, sums),
        min_size=1,
        max_size=6,
    ),
    metric=st.sampled_from(RATIOS),
)
def test_rate_and_mix_add_up_exactly_to_the_change(
    slices: dict[str, tuple[bool, bool, list[int], list[int]]], metric: str
) -> None:
    """In exact arithmetic the reference's contributions sum to the change (the identity), and
    the kernel's floats equal the reference's; slices may appear or vanish."""
    chosen = {
        name: (base if in_base else [0] * 5, cur if in_cur else [0] * 5)
        for name, (in_base, in_cur, base, cur) in slices.items()
    }
    rows = [(n, p, s) for n, (b, c) in chosen.items() for p, s in ((0, b), (1, c)) if any(s)]
    if not rows:
        return
    data = pa.table(
        {
            "campaign_id": [r[0] for r in rows],
            "period": pa.array([r[1] for r in rows], pa.int8()),
            **{m: pa.array([r[2][k] for r in rows], pa.int64()) for k, m in enumerate(ref.MEASURES)},
        }
    )
    got = _kernel.explain_change(data, [("campaign", ["campaign_id"], [])], metric, limit=100)
    totals = [[sum(s[p][k] for s in chosen.values()) for k in range(5)] for p in (0, 1)]
    defined = all(ref.exact_parts(metric, totals[p])[1] != 0 for p in (0, 1))
    assert (got.change is not None) == defined
    if not defined:
        return
    change, contributions = ref.explain(metric, {n: (list(b), list(c)) for n, (b, c) in chosen.items()})
    assert sum(contributions.values(), Fraction(0)) == change  # the identity, exactly
    assert close(got.change, float(change))
    present = {n for n, (b, c) in chosen.items() if any(b) or any(c)}
    found = got.dimensions[0].contributors.to_pylist()
    assert {r["campaign_id"] for r in found} == present
    # Floats round relative to the ratios the terms are made of, even when every contribution is 0.
    ratios = [abs(v) for v in (got.baseline, got.current) if v is not None]
    scale = max(sum(abs(float(c)) for c in contributions.values()), abs(float(change)), *ratios, 1e-300)
    for row in found:
        assert math.isclose(
            row["contribution"], float(contributions[row["campaign_id"]]), abs_tol=1e-12 * scale
        )
        assert math.isclose(
            row["rate_effect"] + row["mix_effect"], row["contribution"], abs_tol=1e-12 * scale
        )
    assert math.isclose(math.fsum(r["contribution"] for r in found), got.change, abs_tol=1e-12 * scale)


@settings(max_examples=40, deadline=None)
@given(
    data=st.dictionaries(st.sampled_from("abc"), sums, min_size=1, max_size=3),
    current=st.dictionaries(st.sampled_from("abcd"), sums, min_size=1, max_size=4),
)
def test_additive_contributions_are_exact_micros(
    data: dict[str, list[int]], current: dict[str, list[int]]
) -> None:
    rows = [(n, 0, s) for n, s in data.items()] + [(n, 1, s) for n, s in current.items()]
    table_ = pa.table(
        {
            "campaign_id": [r[0] for r in rows],
            "period": pa.array([r[1] for r in rows], pa.int8()),
            "currency": ["EUR"] * len(rows),
            **{m: pa.array([r[2][k] for r in rows], pa.int64()) for k, m in enumerate(ref.MEASURES)},
        }
    )
    got = _kernel.explain_change(table_, [("campaign", ["campaign_id"], [])], "cost", limit=100)
    found = got.dimensions[0].contributors.to_pylist()
    assert sum(r["contribution_micros"] for r in found) == got.change_micros
    assert got.change_micros == sum(s[2] for s in current.values()) - sum(s[2] for s in data.values())


@settings(max_examples=40, deadline=None)
@given(
    series=daily(min_days=1, max_days=120),
    granularity=st.sampled_from(("day", "week", "month")),
    moving_average=st.integers(0, 4),
    metric=st.sampled_from(("clicks", "cost", "ctr", "roas")),
)
def test_trends_equal_the_reference(
    series: list[list[int]], granularity: str, moving_average: int, metric: str
) -> None:
    rows = [("c", START + dt.timedelta(days=d), s) for d, s in enumerate(series) if d == 0 or any(s)]
    start = START + dt.timedelta(days=len(series) // 2)
    end = START + dt.timedelta(days=len(series) - 1)
    points, summaries = _kernel.trends(
        table(rows), ["campaign_id"], [metric], granularity, start, end, moving_average=moving_average
    )
    buckets: dict[dt.date, list[int]] = {}
    for _, day, s in rows:
        b = ref.bucket_start(day, granularity)
        buckets[b] = [x + y for x, y in zip(buckets.get(b, [0] * 5), s, strict=True)]
    order = sorted({ref.bucket_start(start + dt.timedelta(days=i), granularity)
                    for i in range((end - start).days + 1)})  # fmt: skip
    got = points.to_pylist()
    assert [r["date"] for r in got] == order
    for row in got:
        b = row["date"]
        assert close(row[metric], ref.value(metric, buckets.get(b, [0] * 5)))
        if granularity == "day":
            previous = b - dt.timedelta(days=1)
            want = ref.value(metric, buckets.get(previous, [0] * 5)) if previous >= START else None
            assert close(row[f"{metric}_previous"], want)
    total = [
        sum(s[k] for d, s in enumerate(series) if start.toordinal() <= START.toordinal() + d)
        for k in range(5)
    ]
    if granularity == "day":
        assert close(summaries.to_pylist()[0][metric], ref.value(metric, total))


def test_ratios_undefined_and_gaps_zero() -> None:
    rows = [("c", START, [100, 5, 1_000_000, 0, 0]), ("c", START + dt.timedelta(days=2), [50, 0, 0, 0, 0])]
    points, _ = _kernel.trends(
        table(rows), ["campaign_id"], ["clicks", "ctr", "cpc"], "day", START, START + dt.timedelta(days=2)
    )
    got = points.to_pylist()
    assert [r["clicks"] for r in got] == [5.0, 0.0, 0.0]
    assert [r["ctr"] for r in got] == [0.05, None, 0.0]
    assert [r["cpc"] for r in got] == [0.2, None, None]
    assert got[1]["clicks_vs_previous"] == -1.0 and got[2]["clicks_vs_previous"] is None


@pytest.mark.parametrize(("granularity", "back"), [("day", 364), ("week", 364), ("month", 365)])
def test_year_ago_lines_up_weekdays_and_is_undefined_without_history(granularity: str, back: int) -> None:
    """Days and weeks look 52 weeks back (a Monday against a Monday), months 12 months back."""
    now = START + dt.timedelta(days=back)
    rows = [("c", START, [1000, 40, 0, 0, 0]), ("c", now, [1000, 50, 0, 0, 0])]
    points, summaries = _kernel.trends(table(rows), ["campaign_id"], ["clicks", "ctr"], granularity, now, now)
    (row,) = points.to_pylist()
    assert (row["clicks_year_ago"], row["clicks_vs_year_ago"]) == (40.0, 0.25)
    assert close(row["ctr_year_ago"], 0.04)
    assert summaries.to_pylist()[0]["clicks_year_ago"] == 40.0
    points, _ = _kernel.trends(table(rows), ["campaign_id"], ["clicks"], granularity, START, START)
    assert points.to_pylist()[0]["clicks_year_ago"] is None  # no data a year before the first day


def test_a_ctr_swing_on_little_volume_is_not_an_anomaly() -> None:
    """40 impressions a day: CTR jumping from 5 % to 15 % is 4 clicks, well inside the band;
    the same swing on 40,000 impressions is an anomaly."""
    for impressions, expected in ((40, False), (40_000, True)):
        rows = []
        for d in range(35):
            ctr = 0.15 if d == 34 else 0.05
            rows.append(("c", START + dt.timedelta(days=d), [impressions, round(impressions * ctr), 0, 0, 0]))
        points, _ = _kernel.detect_anomalies(
            table(rows), ["campaign_id"], "ctr", START + dt.timedelta(days=34), START + dt.timedelta(days=34),
            all_points=True,
        )  # fmt: skip
        assert points["anomaly"].to_pylist() == [expected]


def test_incidents_merge_consecutive_days_and_flag_provisional_days() -> None:
    rows = [("c", START + dt.timedelta(days=d), [1000, 100 if d not in (40, 41, 42) else 400, 0, 0, 0])
            for d in range(45)]  # fmt: skip
    points, incidents = _kernel.detect_anomalies(
        table(rows),
        ["campaign_id"],
        "clicks",
        START + dt.timedelta(days=30),
        START + dt.timedelta(days=44),
        provisional_from={"google_ads": START},
        default_provisional_from=START + dt.timedelta(days=42),
    )
    assert points["date"].to_pylist() == [START + dt.timedelta(days=d) for d in (40, 41, 42)]
    (incident,) = incidents.to_pylist()
    assert (incident["start"], incident["end"], incident["days"]) == (
        START + dt.timedelta(days=40),
        START + dt.timedelta(days=42),
        3,
    )
    assert incident["direction"] == "up" and incident["severity"] == 4 and incident["provisional"]
    assert incident["clicks"] == 1200
    assert points["provisional"].to_pylist() == [False, False, True]


def _judge_last(daily: list[list[int]], metric: str, **options: object) -> dict[str, object]:
    rows = [("c", START + dt.timedelta(days=d), s) for d, s in enumerate(daily)]
    last = START + dt.timedelta(days=len(daily) - 1)
    points, _ = _kernel.detect_anomalies(
        table(rows),
        ["campaign_id"],
        metric,
        last,
        last,
        all_points=True,
        **options,  # type: ignore[arg-type]
    )
    (point,) = points.to_pylist()
    return point


def test_a_zero_is_a_cliff_for_a_big_count_and_ordinary_for_a_tiny_one() -> None:
    """Conversions that vanish: from ~1 a day, a zero day is ordinary sampling noise; from ~40 a
    day it is far outside the band, even with the day-to-day wobble of a noisy campaign."""
    rng = __import__("random").Random(3)
    for level, expected in ((1.0, False), (40.0, True)):
        daily = []
        for d in range(42):
            conversions = 0 if d == 41 else max(0, round(rng.lognormvariate(0, 0.25) * level))
            daily.append([10_000, 500, 500_000_000, conversions * 1_000_000, conversions * 50_000_000])
        point = _judge_last(daily, "conversions")
        assert point["method"] == "seasonal" and point["anomaly"] is expected, point


def test_the_band_follows_each_series_own_noise() -> None:
    """A +50 % spend day is an anomaly for a campaign whose spend moves 2 % a day, and
    ordinary for one whose spend moves 25 % a day."""
    rng = __import__("random").Random(5)
    for noise, expected in ((0.02, True), (0.25, False)):
        daily = [[20_000, 1_000, round(1e9 * rng.lognormvariate(0, noise) * (1.5 if d == 41 else 1)), 0, 0]
                 for d in range(42)]  # fmt: skip
        assert _judge_last(daily, "cost")["anomaly"] is expected


def test_cold_start_judges_nothing_in_the_first_week_and_only_extremes_until_day_28() -> None:
    steady = [[10_000, 400, 400_000_000, 20_000_000, 1_000_000_000]] * 28
    for days in range(1, 8):
        point = _judge_last([*steady[: days - 1], [10_000, 400, 4_000_000_000, 0, 0]], "cost")
        assert point["method"] is None and not point["anomaly"]
    for days in (11, 28):
        tripled = _judge_last([*steady[: days - 1], [10_000, 400, 1_200_000_000, 0, 0]], "cost")
        assert tripled["method"] == "cold_start" and not tripled["anomaly"]
    assert _judge_last([*steady, [10_000, 400, 1_200_000_000, 0, 0]], "cost")["method"] == "seasonal"
    fivefold = _judge_last([*steady[:10], [10_000, 400, 2_000_000_000, 0, 0]], "cost")
    assert fivefold["anomaly"] and fivefold["direction"] == "up"
    assert (
        _judge_last([*steady[:10], [10_000, 400, 2_000_000_000, 0, 0]], "cost", cold_start_factor=6.0)[
            "anomaly"
        ]
        is False
    )


def test_a_series_ends_with_its_last_day_of_data() -> None:
    """A campaign paused two days before the end: its missing days are not judged as zeros."""
    rows = [("c", START + dt.timedelta(days=d), [1000, 100, 100_000_000, 0, 0]) for d in range(40)]
    points, incidents = _kernel.detect_anomalies(
        table(rows), ["campaign_id"], "cost", START + dt.timedelta(days=30), START + dt.timedelta(days=41),
        all_points=True,
    )  # fmt: skip
    assert points["date"].to_pylist()[-1] == START + dt.timedelta(days=39)
    assert incidents.num_rows == 0


def test_bad_arguments_raise_value_errors() -> None:
    one = table([("c", START, [1, 1, 1, 1, 1])])
    with pytest.raises(ValueError, match="unknown metric"):
        _kernel.detect_anomalies(one, [], "likes", START, START)
    with pytest.raises(ValueError, match="window"):
        _kernel.detect_anomalies(one, [], "clicks", START, START, window=3)
    with pytest.raises(ValueError, match="cold_start_factor"):
        _kernel.detect_anomalies(one, [], "clicks", START, START, cold_start_factor=1.0)
    with pytest.raises(ValueError, match="granularity"):
        _kernel.trends(one, [], ["clicks"], "year", START, START)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="period"):
        _kernel.explain_change(one, [("all", [], [])], "clicks")
