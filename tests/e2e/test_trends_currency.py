"""GetTrends sums money per bucket: a row in another currency somewhere in the look-back blanks
only the buckets it is in, and with a reporting currency each row converts at its date's rate,
a bucket lacking a rate saying so by its currency."""

from __future__ import annotations

from pathlib import Path

import pytest

from adpulse.client import AdpulseClient
from adpulse.v1 import analytics_service_pb2 as pb

HEADER = (
    "date,platform,account_id,campaign_id,campaign_name,ad_group_id,ad_id,currency,"
    "impressions,clicks,cost,conversions,revenue"
)
# One Meta campaign over four ISO weeks (Mondays 02-23, 03-02, 03-09, 03-16): EUR, then USD with
# one EUR day in the second week, then EUR again in the fourth.
ROWS = (
    ("2026-02-24", "EUR", "10.00"),
    ("2026-02-25", "EUR", "20.00"),
    ("2026-03-03", "USD", "5.00"),
    ("2026-03-04", "EUR", "1.00"),
    ("2026-03-10", "USD", "7.00"),
    ("2026-03-17", "EUR", "2.00"),
)
WEEKS = ["2026-02-23", "2026-03-02", "2026-03-09", "2026-03-16"]


@pytest.fixture
def mixed(client: AdpulseClient, workdir: Path) -> AdpulseClient:
    lines = [
        f"{date},meta_ads,acct-1,cmp-1,Prospecting,ag-1,ad-1,{currency},1000,50,{cost},2,{cost}"
        for date, currency, cost in ROWS
    ]
    path = workdir / "mixed.csv"
    path.write_text("\n".join([HEADER, *lines]) + "\n")
    assert client.ingest_files([path]).rejected == 0
    return client


def _trends(client: AdpulseClient, start: str, end: str) -> pb.TrendSeries:
    # The README's first trends example: cost and CTR by platform, weekly, with a moving average.
    response = client.get_trends(
        metrics=["cost", "ctr"], by=["platform"], granularity="week", start=start, end=end, moving_average=2
    )
    (series,) = response.series
    return series


def _costs(series: pb.TrendSeries) -> list[tuple[str, str, float | None]]:
    return [
        (p.date, p.currency, p.values[0].value.value if p.values[0].HasField("value") else None)
        for p in series.points
    ]


def test_a_bucket_in_one_currency_keeps_its_money_whatever_the_look_back_holds(mixed: AdpulseClient) -> None:
    series = _trends(mixed, "2026-03-09", "2026-03-15")  # the look-back holds the EUR weeks

    ((date, currency, cost),) = _costs(series)
    assert (date, currency, cost) == ("2026-03-09", "USD", 7.0)
    assert series.points[0].values[0].value_micros.value == 7_000_000
    assert series.currency == "USD" and series.summaries[0].total.value == 7.0
    # The week before mixes USD and EUR: no like-for-like comparison with it.
    assert not series.points[0].values[0].HasField("previous")
    assert not series.points[0].values[0].HasField("moving_average")


def test_only_buckets_mixing_currencies_lose_their_money(mixed: AdpulseClient) -> None:
    series = _trends(mixed, WEEKS[0], "2026-03-22")

    assert _costs(series) == [
        (WEEKS[0], "EUR", 30.0),
        (WEEKS[1], "", None),
        (WEEKS[2], "USD", 7.0),
        (WEEKS[3], "EUR", 2.0),
    ]
    assert all(p.values[1].value.value == 0.05 for p in series.points)  # CTR needs no currency
    assert series.currency == "" and not series.summaries[0].HasField("total")


def test_with_a_reporting_currency_each_row_converts_and_a_missing_rate_marks_its_bucket(
    mixed: AdpulseClient,
) -> None:
    mixed.upsert_fx_rates([("2026-02-24", "EUR", "USD", "1.1"), ("2026-02-25", "EUR", "USD", "1.2")])
    mixed.update_tenant_settings(reporting_currency="USD")

    response = mixed.get_trends(
        metrics=["cost"], by=["platform"], granularity="week", start=WEEKS[0], end="2026-03-22"
    )

    assert response.reporting_currency == "USD"
    # No rate for 03-04 (mixed with converted USD: unset) nor for 03-17 (EUR, not converted).
    assert _costs(response.series[0]) == [
        (WEEKS[0], "USD", 35.0),
        (WEEKS[1], "", None),
        (WEEKS[2], "USD", 7.0),
        (WEEKS[3], "EUR", 2.0),
    ]

    mixed.upsert_fx_rates([("2026-03-04", "EUR", "USD", "1.5"), ("2026-03-17", "EUR", "USD", "1.25")])
    series = _trends(mixed, WEEKS[0], "2026-03-22")

    assert _costs(series) == [
        (WEEKS[0], "USD", 35.0),
        (WEEKS[1], "USD", 6.5),
        (WEEKS[2], "USD", 7.0),
        (WEEKS[3], "USD", 2.5),
    ]
    assert series.points[3].values[0].moving_average.value == 4.75
    assert series.currency == "USD" and series.summaries[0].total_micros.value == 51_000_000
