"""QueryMetrics against an independent Decimal reference, to the cent."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import pytest

from adpulse.client import AdpulseClient, AdpulseError, MetricsRecord
from tests.support.facts import Expected, Fact, expected_groups, random_facts, to_csv

FACTS = random_facts(seed=7)


@pytest.fixture
def loaded(client: AdpulseClient, workdir: Path) -> AdpulseClient:
    path = workdir / "facts.csv"
    path.write_text(to_csv(f.csv_values() for f in FACTS))
    report = client.ingest_files([path], batch_bytes=32 * 1024)
    assert report.accepted == len(FACTS) and report.rejected == 0
    return client


def _assert_matches(row: MetricsRecord, want: Expected) -> None:
    assert (row.impressions, row.clicks) == (want.impressions, want.clicks)
    assert row.cost == want.cost
    assert row.revenue == want.revenue
    assert row.conversions == want.conversions
    assert row.currency == want.currency
    for name, value in want.kpis().items():
        got = row.kpis[name]
        if value is None:
            assert got is None, name
        else:
            assert got is not None and math.isclose(got, float(value), rel_tol=1e-12), name


def _week(d: dt.date) -> dt.date:
    return d - dt.timedelta(days=d.weekday())


CASES: dict[
    str,
    tuple[
        list[str], str, Callable[[Fact], tuple[object, ...]], Callable[[MetricsRecord], tuple[object, ...]]
    ],
] = {
    "platform": (["platform"], "day", lambda f: (f.platform,), lambda r: (r.dimensions["platform"],)),
    "campaign": (
        ["campaign"],
        "day",
        lambda f: (f.platform, f.account_id, f.campaign_id),
        lambda r: (r.dimensions["platform"], r.dimensions["account"], r.dimensions["campaign"]),
    ),
    "currency": (["currency"], "day", lambda f: (f.currency,), lambda r: (r.currency,)),
    "week": (
        ["date"],
        "week",
        lambda f: (_week(f.date),),
        lambda r: (dt.date.fromisoformat(r.dimensions["date"]),),
    ),
    "month x platform": (
        ["date", "platform"],
        "month",
        lambda f: (f.date.replace(day=1), f.platform),
        lambda r: (dt.date.fromisoformat(r.dimensions["date"]), r.dimensions["platform"]),
    ),
    "ad by day": (
        ["ad", "date"],
        "day",
        lambda f: (f.platform, f.account_id, f.campaign_id, f.ad_group_id, f.ad_id, f.date),
        lambda r: (
            r.dimensions["platform"],
            r.dimensions["account"],
            r.dimensions["campaign"],
            r.dimensions["ad_group"],
            r.dimensions["ad"],
            dt.date.fromisoformat(r.dimensions["date"]),
        ),
    ),
}


@pytest.mark.parametrize("case", CASES)
def test_groups_equal_the_reference(loaded: AdpulseClient, case: str) -> None:
    by, granularity, fact_key, row_key = CASES[case]
    expected = expected_groups(FACTS, fact_key)

    result = loaded.query_metrics(by=by, granularity=granularity)  # type: ignore[arg-type]

    assert result.total_size == len(expected) == len(result.rows)
    for row in result.rows:
        _assert_matches(row, expected[row_key(row)])
    _assert_matches(result.totals, expected_groups(FACTS, lambda f: ())[()])


def test_mixed_currencies_leave_money_undefined_not_wrong(loaded: AdpulseClient) -> None:
    by_date = loaded.query_metrics(by=["date"])  # every day has EUR and USD campaigns
    by_campaign = loaded.query_metrics(by=["campaign"])  # a campaign has one currency

    for row in by_date.rows:
        assert row.currency is None
        assert row.cost is None and row.revenue is None
        assert row.kpis["cpc"] is None and row.kpis["roas"] is None
        assert row.kpis["ctr"] is not None
    assert all(row.currency and row.cost is not None for row in by_campaign.rows)
    assert by_date.totals.cost is None and by_date.totals.currency is None


def test_date_range_and_filters(loaded: AdpulseClient) -> None:
    start, end = dt.date(2026, 3, 5), dt.date(2026, 3, 9)
    chosen = [
        f
        for f in FACTS
        if start <= f.date <= end and f.platform in {"meta_ads", "tiktok_ads"} and f.currency == "USD"
    ]
    expected = expected_groups(chosen, lambda f: (f.platform,))

    result = loaded.query_metrics(
        start=start.isoformat(),
        end=end.isoformat(),
        by=["platform"],
        filters={"platform": ["meta_ads", "tiktok_ads"]},
        exclude={"currency": ["EUR"]},
    )

    assert {r.dimensions["platform"] for r in result.rows} == {"meta_ads", "tiktok_ads"}
    for row in result.rows:
        _assert_matches(row, expected[(row.dimensions["platform"],)])


def test_order_by_kpi_puts_undefined_last(loaded: AdpulseClient) -> None:
    result = loaded.query_metrics(by=["ad", "date"], order_by="cpa desc")
    cpas = [r.kpis["cpa"] for r in result.rows]
    defined = [c for c in cpas if c is not None]

    assert defined == sorted(defined, reverse=True)
    assert cpas == defined + [None] * (len(cpas) - len(defined))
    assert len(defined) < len(cpas)  # the data has zero-conversion groups


def test_pages_cover_every_group_once(loaded: AdpulseClient) -> None:
    from adpulse.v1 import analytics_service_pb2 as pb

    request = pb.QueryMetricsRequest(
        dimensions=[pb.DIMENSION_AD, pb.DIMENSION_DATE], order_by="clicks desc", page_size=37
    )
    seen: list[tuple[str, ...]] = []
    while True:
        page = loaded.query_metrics_page(request)
        assert len(page.rows) <= 37
        seen.extend(
            (r.platform, r.account_id, r.campaign_id, r.ad_group_id, r.ad_id, r.date) for r in page.rows
        )
        if not page.next_page_token:
            break
        request.page_token = page.next_page_token

    expected = expected_groups(
        FACTS, lambda f: (f.platform, f.account_id, f.campaign_id, f.ad_group_id, f.ad_id, f.date)
    )
    assert len(seen) == len(set(seen)) == len(expected) == page.total_size


def test_a_page_token_of_another_query_is_refused(loaded: AdpulseClient) -> None:
    from adpulse.v1 import analytics_service_pb2 as pb

    first = loaded.query_metrics_page(pb.QueryMetricsRequest(dimensions=[pb.DIMENSION_AD], page_size=5))
    other = pb.QueryMetricsRequest(dimensions=[pb.DIMENSION_CAMPAIGN], page_token=first.next_page_token)

    with pytest.raises(AdpulseError) as caught:
        loaded.query_metrics_page(other)

    assert caught.value.code == "INVALID_ARGUMENT"
    assert [v.field for v in caught.value.violations] == ["page_token"]


def test_undefined_kpis_are_unset_and_zero_is_zero(client: AdpulseClient, workdir: Path) -> None:
    path = workdir / "zeros.csv"
    path.write_text(
        to_csv(
            [
                ["2026-03-01", "google_ads", "a", "c", "", "g", "ad-shown", "EUR", "100", "0", "0", "0", "0"],
                ["2026-03-01", "google_ads", "a", "c", "", "g", "ad-dark", "EUR", "0", "0", "0", "0", "0"],
            ]
        )
    )
    client.ingest_files([path])

    rows = {r.dimensions["ad"]: r for r in client.query_metrics(by=["ad"]).rows}

    assert rows["ad-shown"].kpis["ctr"] == 0.0
    assert rows["ad-shown"].kpis["cpc"] is None
    assert all(value is None for value in rows["ad-dark"].kpis.values())
    assert rows["ad-dark"].cost == Decimal(0)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"start": "2026-02-30"}, "start_date"),
        ({"start": "2026-03-10", "end": "2026-03-01"}, "start_date"),
        ({"order_by": "cost sideways"}, "order_by"),
        ({"order_by": "campaign"}, "order_by"),
    ],
)
def test_bad_queries_name_the_field(client: AdpulseClient, kwargs: dict[str, str], field: str) -> None:
    with pytest.raises(AdpulseError) as caught:
        client.query_metrics(**kwargs)  # type: ignore[arg-type]

    assert caught.value.code == "INVALID_ARGUMENT"
    assert [v.field for v in caught.value.violations] == [field]
