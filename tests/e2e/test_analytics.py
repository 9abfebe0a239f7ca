"""GetTrends, DetectAnomalies, ExplainChange, insights and budgets against the real server."""

from __future__ import annotations

import datetime as dt
import math
from decimal import Decimal
from pathlib import Path

import pytest

from adpulse.client import AdpulseClient, AdpulseError, demo
from adpulse.v1 import analytics_service_pb2 as pb
from tests.observe.support import moved, scrape
from tests.support.facts import expected_groups, random_facts, to_csv
from tests.support.server import ServerProcess

FACTS = random_facts(seed=11, n_campaigns=6, days=20)
YESTERDAY = dt.datetime.now(dt.UTC).date() - dt.timedelta(days=1)


def _load_csv(client: AdpulseClient, workdir: Path, text: str) -> None:
    path = workdir / "facts.csv"
    path.write_text(text)
    report = client.ingest_files([path])
    assert report.rejected == 0


@pytest.fixture
def loaded(client: AdpulseClient, workdir: Path) -> AdpulseClient:
    _load_csv(client, workdir, to_csv(f.csv_values() for f in FACTS))
    return client


@pytest.fixture(scope="module")
def demo_data() -> tuple[str, list[demo.Incident]]:
    return demo.dataset(3, end=YESTERDAY, days=90, campaign_count=10)


@pytest.fixture
def demo_account(
    client: AdpulseClient, workdir: Path, demo_data: tuple[str, list[demo.Incident]]
) -> list[demo.Incident]:
    _load_csv(client, workdir, demo_data[0])
    return demo_data[1]


def test_trend_points_equal_query_metrics_and_gaps_are_filled(loaded: AdpulseClient) -> None:
    usd = [f for f in FACTS if f.currency == "USD"]
    response = loaded.get_trends(
        metrics=["clicks", "cost", "ctr", "roas"], by=["campaign"], start="2026-03-01", end="2026-03-20",
        filters={"currency": ["USD"]},
    )  # fmt: skip
    expected = expected_groups(usd, lambda f: (f.campaign_id, f.date.isoformat()))
    assert response.total_size == len({f.campaign_id for f in usd})
    totals = [s.summaries[0].total.value for s in response.series]
    assert totals == sorted(totals, reverse=True)  # the largest series (by the first metric) first
    for series in response.series:
        assert len(series.points) == 20
        for point in series.points:
            want = expected.get((series.group.campaign_id, point.date))
            clicks, cost, ctr, roas = point.values
            if want is None:  # no row that day: sums are 0, ratios undefined
                assert clicks.value.value == 0 and cost.value_micros.value == 0
                assert not ctr.HasField("value") and not roas.HasField("value")
                continue
            assert clicks.value.value == want.clicks
            assert Decimal(cost.value_micros.value) / 1_000_000 == want.cost
            kpis = want.kpis()
            for got, name in ((ctr, "ctr"), (roas, "roas")):
                if kpis[name] is None:
                    assert not got.HasField("value")
                else:
                    assert math.isclose(got.value.value, float(kpis[name]), rel_tol=1e-12)


def test_trends_compare_with_the_previous_bucket_and_average(loaded: AdpulseClient) -> None:
    response = loaded.get_trends(
        metrics=["impressions"], start="2026-03-01", end="2026-03-20", moving_average=3
    )
    (series,) = response.series
    values = [p.values[0].value.value for p in series.points]
    first, second, third = series.points[:3]
    assert not first.values[0].HasField("previous")  # the series starts on March 1
    assert second.values[0].previous.value == values[0]
    if values[0]:
        assert math.isclose(second.values[0].change_vs_previous.value, (values[1] - values[0]) / values[0])
    assert not second.values[0].HasField("moving_average")
    assert math.isclose(third.values[0].moving_average.value, sum(values[:3]) / 3)
    assert not series.summaries[0].HasField("previous_period")


def test_detection_finds_the_injected_incidents(
    client: AdpulseClient, demo_account: list[demo.Incident]
) -> None:
    broken = next(i for i in demo_account if i.kind == "tracking_break")
    found = client.detect_anomalies(
        metric="conversions", by=["campaign"], start=(YESTERDAY - dt.timedelta(days=27)).isoformat()
    )
    hits = [
        i for i in found.incidents
        if i.group.campaign_id == broken.campaign.campaign_id
        and i.start_date <= broken.end.isoformat() and i.end_date >= broken.start.isoformat()
    ]  # fmt: skip
    assert hits and hits[0].direction == pb.DIRECTION_DOWN
    assert hits[0].method in {pb.ANOMALY_METHOD_SEASONAL, pb.ANOMALY_METHOD_WEEK_OVER_WEEK}
    # Meta restates 28 days: its days in the last four weeks are provisional.
    meta = [a for a in found.anomalies if a.group.platform == "meta_ads"]
    assert all(a.provisional for a in meta)
    google = [a for a in found.anomalies if a.group.platform == "google_ads"]
    assert all(a.provisional == (a.date >= (YESTERDAY - dt.timedelta(days=13)).isoformat()) for a in google)


def test_sensitivity_widens_or_narrows_the_band_and_methods_are_honoured(
    client: AdpulseClient, demo_account: list[demo.Incident]
) -> None:
    start = (YESTERDAY - dt.timedelta(days=27)).isoformat()
    flagged, widths = {}, {}
    for level in ("low", "medium", "high"):
        found = client.detect_anomalies(
            metric="clicks", by=["campaign"], start=start, sensitivity=level, include_series=True
        )
        flagged[level] = {(a.group.campaign_id, a.date) for a in found.anomalies}
        widths[level] = [p.upper_bound.value - p.lower_bound.value for s in found.series for p in s.points]
    assert flagged["low"] <= flagged["medium"] <= flagged["high"]
    # The demo's incidents stand out at every level; the bands around them narrow.
    assert sum(widths["low"]) > sum(widths["medium"]) > sum(widths["high"])
    methods = {
        "zscore": pb.ANOMALY_METHOD_ZSCORE,
        "mad": pb.ANOMALY_METHOD_MAD,
        "seasonal": pb.ANOMALY_METHOD_SEASONAL,
        "week_over_week": pb.ANOMALY_METHOD_WEEK_OVER_WEEK,
    }
    for name, method in methods.items():
        found = client.detect_anomalies(
            metric="cost", by=["campaign"], start=start, method=name, sensitivity="high"
        )
        assert found.anomalies, name
        assert {a.method for a in found.anomalies} == {method}


def test_detection_series_carry_bounds_for_charts(
    client: AdpulseClient, demo_account: list[demo.Incident]
) -> None:
    found = client.detect_anomalies(
        metric="cpc",
        by=["platform"],
        method="mad",
        include_series=True,
        start=(YESTERDAY - dt.timedelta(days=13)).isoformat(),
    )
    assert len(found.series) == 4
    for series in found.series:
        assert len(series.points) == 14
        for p in series.points:
            assert p.lower_bound.value <= p.expected.value <= p.upper_bound.value
            assert p.anomaly == (not p.lower_bound.value <= p.observed.value <= p.upper_bound.value)


def test_explain_names_the_broken_campaign(client: AdpulseClient, demo_account: list[demo.Incident]) -> None:
    surge = next(i for i in demo_account if i.kind == "cpc_surge")
    found = client.explain_change(
        metric="cpc", start=surge.start.isoformat(), end=surge.end.isoformat(), by=["campaign", "platform"]
    )
    assert found.baseline_start_date == (surge.start - dt.timedelta(days=7)).isoformat()
    by_campaign = next(d for d in found.dimensions if d.dimension == pb.DIMENSION_CAMPAIGN)
    top = by_campaign.contributors[0]
    assert top.group.campaign_id == surge.campaign.campaign_id
    assert top.rate_effect.value > abs(top.mix_effect.value)
    for dim in found.dimensions:
        total = math.fsum(c.contribution.value for c in dim.contributors)
        if dim.slices <= 5:
            assert math.isclose(total, found.change.value, rel_tol=1e-9, abs_tol=1e-12)


def test_explain_money_is_exact_and_needs_one_currency(loaded: AdpulseClient) -> None:
    found = loaded.explain_change(
        metric="cost", start="2026-03-11", end="2026-03-20", baseline_start="2026-03-01",
        baseline_end="2026-03-10", by=["campaign"], filters={"currency": ["USD"]}, max_contributors=100,
    )  # fmt: skip
    usd = [f for f in FACTS if f.currency == "USD"]
    base = sum(f.cost for f in usd if f.date.day <= 10)
    cur = sum(f.cost for f in usd if f.date.day > 10)
    assert Decimal(found.change_micros.value) / 1_000_000 == cur - base
    (dim,) = found.dimensions
    assert sum(c.contribution_micros.value for c in dim.contributors) == found.change_micros.value
    with pytest.raises(AdpulseError) as caught:
        loaded.explain_change(metric="roas", start="2026-03-11", end="2026-03-20")
    assert caught.value.code == "FAILED_PRECONDITION" and caught.value.reason == "MIXED_CURRENCIES"


def test_insights_tell_the_whole_story_and_remember_their_status(
    client: AdpulseClient, demo_account: list[demo.Incident]
) -> None:
    broken = next(i for i in demo_account if i.kind == "tracking_break")
    report = client.generate_insights(stories=True)
    assert report.insights, "the demo account has incidents"
    priorities = [i.priority for i in report.insights]
    assert priorities == sorted(priorities, reverse=True)
    kinds = {i.type for i in report.insights}
    assert pb.INSIGHT_TYPE_ANOMALY in kinds
    tracking = [
        i for i in report.insights
        if i.type == pb.INSIGHT_TYPE_ANOMALY and i.group.campaign_id == broken.campaign.campaign_id
    ]  # fmt: skip
    assert tracking, [i.title for i in report.insights]
    insight = tracking[0]
    assert "conversion tracking" in insight.recommended_action
    assert insight.HasField("impact_micros") and insight.impact_micros.value > 0
    assert insight.evidence.series and insight.evidence.incidents
    story = next(s for s in report.stories if s.insight == insight.name)
    assert story.explanation.dimensions and story.recommended_action == insight.recommended_action
    assert all(i.name.startswith("insights/") and i.title and i.body for i in report.insights)

    dismissed = client.update_insight(insight.name, status="dismissed", feedback="known outage")
    assert dismissed.status == pb.INSIGHT_STATUS_DISMISSED and dismissed.feedback == "known outage"
    again = client.generate_insights()
    assert insight.name not in {i.name for i in again.insights}
    stored = {i.name: i for i in client.list_insights()}
    assert stored[insight.name].status == pb.INSIGHT_STATUS_DISMISSED
    assert [i.name for i in client.list_insights(statuses=["dismissed"])] == [insight.name]


def test_list_insights_pages(client: AdpulseClient, demo_account: list[demo.Incident]) -> None:
    client.generate_insights()
    everything = client.list_insights()
    request = pb.ListInsightsRequest(page_size=2)
    seen = []
    while True:
        page = client._analytics.ListInsights(request, metadata=client._metadata)
        seen += [i.name for i in page.insights]
        if not page.next_page_token:
            break
        request.page_token = page.next_page_token
    assert seen == [i.name for i in everything] and len(seen) == page.total_size > 2


def test_generated_insights_page_in_rank_order_and_stories_carry_confidence(
    client: AdpulseClient, demo_account: list[demo.Incident]
) -> None:
    everything = client.generate_insights(page_size=100, stories=True)
    assert everything.total_size == len(everything.insights) > 3 and not everything.next_page_token
    seen, token = [], ""
    while True:
        page = client.generate_insights(page_size=2, page_token=token)
        assert len(page.insights) <= 2 and page.total_size == everything.total_size
        seen += [i.name for i in page.insights]
        token = page.next_page_token
        if not token:
            break
    assert seen == [i.name for i in everything.insights]
    token = client.generate_insights(page_size=1).next_page_token
    with pytest.raises(AdpulseError) as caught:  # a token pages only the query it came from
        client.generate_insights(page_size=1, page_token=token, sensitivity="high")
    assert caught.value.code == "INVALID_ARGUMENT"
    # Every anomaly is ranked by how sure it is: priority = confidence x (severity + money share).
    for story in everything.stories:
        insight = next(i for i in everything.insights if i.name == story.insight)
        sure = max([story.incident.confidence.value] + [r.confidence.value for r in story.related])
        assert 0 < sure <= 1 and insight.priority <= sure * (insight.severity + 1) + 1e-9


def test_later_pages_of_generated_insights_are_cut_from_the_first_run(
    server: ServerProcess, client: AdpulseClient, demo_account: list[demo.Incident]
) -> None:
    def stored() -> dict[str, dt.datetime]:
        # Each generation stores what it found again, which moves update_time.
        return {i.name: i.update_time.ToDatetime() for i in client.list_insights()}

    first = client.generate_insights(page_size=2)
    assert first.next_page_token and first.total_size > 2
    stamps, before = stored(), scrape(server.metrics_url)

    second = client.generate_insights(page_size=2, page_token=first.next_page_token)

    assert stored() == stamps, "page 2 generated the insights again"
    hits = moved(
        before, scrape(server.metrics_url), "adpulse_cache_requests_total", cache="insight_runs", result="hit"
    )
    assert hits == 1
    assert second.total_size == first.total_size
    assert len(second.insights) == 2 and not {i.name for i in first.insights} & {
        i.name for i in second.insights
    }
    client.generate_insights(page_size=2)  # a first page is a new run
    assert stored() != stamps


def test_budgets_drive_pacing_insights(client: AdpulseClient, demo_account: list[demo.Incident]) -> None:
    month = YESTERDAY.strftime("%Y-%m")
    campaign = demo_account[0].campaign
    budget = client.set_budget(
        platform=campaign.platform, account_id=campaign.account_id, campaign_id=campaign.campaign_id,
        month=month, amount_micros=1_000_000, currency="USD",
    )  # fmt: skip
    assert budget.month == month and budget.HasField("update_time")
    report = client.generate_insights(max_insights=100)
    pacing = [i for i in report.insights if i.type == pb.INSIGHT_TYPE_PACING]
    assert len(pacing) == 1
    assert pacing[0].evidence.pacing.status == pb.PACING_STATUS_OVER
    assert pacing[0].evidence.pacing.budget.amount_micros == 1_000_000
    with pytest.raises(AdpulseError) as caught:
        client.set_budget(
            platform=campaign.platform, account_id=campaign.account_id, campaign_id=campaign.campaign_id,
            month=month, amount_micros=1, currency="EUR",
        )  # fmt: skip
    assert [v.field for v in caught.value.violations] == ["budget.currency"]


def test_reallocation_moves_spend_without_creating_money(
    client: AdpulseClient, demo_account: list[demo.Incident]
) -> None:
    report = client.generate_insights(max_insights=100, max_shift=0.3)
    moves = [i for i in report.insights if i.type == pb.INSIGHT_TYPE_BUDGET_REALLOCATION]
    assert moves, [i.title for i in report.insights]
    plan = moves[0].evidence.budget_moves
    assert sum(m.shift_per_day_micros for m in plan) == 0
    for m in plan:
        assert abs(m.shift_per_day_micros) <= 0.3 * m.spend_per_day_micros + 1
    takers = [m for m in plan if m.shift_per_day_micros > 0]
    givers = [m for m in plan if m.shift_per_day_micros < 0]
    assert min(m.marginal_roas for m in takers) > max(m.marginal_roas for m in givers)


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda c: c.get_trends(metrics=[]), "metrics"),
        (lambda c: c.get_trends(metrics=["clicks"], by=["date"]), "dimensions[0]"),
        (lambda c: c.get_trends(metrics=["clicks", "clicks"]), "metrics[1]"),
        (lambda c: c.detect_anomalies(metric="clicks", window_days=3), "window_days"),
        (lambda c: c.detect_anomalies(metric="clicks", start="2026-04-02", end="2026-04-01"), "start_date"),
        (lambda c: c.explain_change(metric="cpa", start="2026-04-01", end=""), "current_end_date"),
        (lambda c: c.generate_insights(max_shift=1.5), "max_shift"),
        (lambda c: c.update_insight("nonsense", status="dismissed"), "insight.name"),
    ],
)
def test_bad_requests_name_the_field(client: AdpulseClient, call: object, field: str) -> None:
    with pytest.raises(AdpulseError) as caught:
        call(client)  # type: ignore[operator]
    assert caught.value.code == "INVALID_ARGUMENT"
    assert [v.field for v in caught.value.violations] == [field]


def test_unset_metric_and_unknown_insight(client: AdpulseClient) -> None:
    with pytest.raises(AdpulseError) as caught:
        client._call(client._analytics.DetectAnomalies, pb.DetectAnomaliesRequest())
    assert caught.value.code == "INVALID_ARGUMENT" and caught.value.violations[0].field == "metric"
    with pytest.raises(AdpulseError) as caught:
        client.update_insight("insights/abc123", status="acknowledged")
    assert caught.value.code == "NOT_FOUND"
