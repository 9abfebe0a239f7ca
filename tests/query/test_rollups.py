"""Rollups answer exactly what the facts answer, for random requests after random restatements.

Batches re-deliver random subsets of a small key space with new values, versions and sometimes
another currency (so a campaign-day's currency key can vanish: the rollup must tombstone it),
across a month boundary. Every request the planner sends to a rollup is also run on the facts,
and both answers must be equal to the micro, names included.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import pyarrow as pa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adpulse.server.domain.metrics_query import (
    Dimension,
    DimensionFilter,
    FactSelection,
    Granularity,
    MetricsQuery,
)
from adpulse.server.domain.query_plan import Source, choose_source
from adpulse.server.storage.fact_store import ClickHouseFactStore
from adpulse.server.storage.rollups import ClickHouseRollups

# A small key space (64 fact keys), so later batches often restate rows of earlier ones.
FIRST_DAY = dt.date(2026, 1, 30)
DAYS = 4  # crosses into February: two partitions
PLATFORMS = ("google_ads", "meta_ads")
ACCOUNTS = ("a1", "a2")
CAMPAIGNS = ("c1", "c2")
ADS = (("g1", "ad1"), ("g2", "ad1"))
CURRENCIES = ("USD", "EUR")
VALUES = {
    Dimension.PLATFORM: PLATFORMS,
    Dimension.ACCOUNT: ACCOUNTS,
    Dimension.CAMPAIGN: CAMPAIGNS,
    Dimension.CURRENCY: CURRENCIES,
}
KEYS = st.tuples(
    st.integers(0, DAYS - 1),
    st.sampled_from(PLATFORMS),
    st.sampled_from(ACCOUNTS),
    st.sampled_from(CAMPAIGNS),
    st.sampled_from(ADS),
)
MEASURES = st.tuples(*(st.integers(0, 10**12) for _ in range(5)))
ROW = st.tuples(KEYS, st.sampled_from(CURRENCIES), MEASURES)
BATCH = st.lists(ROW, min_size=1, max_size=30, unique_by=lambda r: r[0])
FILTER = st.sampled_from(list(VALUES)).flatmap(
    lambda dim: st.builds(
        DimensionFilter,
        st.just(dim),
        st.lists(st.sampled_from(VALUES[dim]), min_size=1, max_size=2, unique=True).map(tuple),
        st.booleans(),
    )
)
DAY = st.none() | st.integers(0, DAYS - 1).map(lambda d: FIRST_DAY + dt.timedelta(days=d))
REQUEST = st.tuples(
    st.lists(
        st.sampled_from([Dimension.DATE, *VALUES]),
        max_size=3,
        unique=True,
    ),
    st.sampled_from(Granularity),
    st.lists(FILTER, max_size=2),
    DAY,
    DAY,
)


def _batch(rows: list[Any], version: int) -> pa.RecordBatch:
    """Fact rows as the kernel hands them to the store; a campaign's name changes per batch."""
    columns: dict[str, list[Any]] = {
        name: []
        for name in (
            "date",
            "platform",
            "account_id",
            "campaign_id",
            "campaign_name",
            "ad_group_id",
            "ad_id",
            "currency",
            "impressions",
            "clicks",
            "cost_micros",
            "conversions_micros",
            "revenue_micros",
        )
    }
    for (day, platform, account, campaign, (group, ad)), currency, measures in rows:
        values = (
            FIRST_DAY + dt.timedelta(days=day),
            platform,
            account,
            campaign,
            f"{campaign} v{version}",
            group,
            ad,
            currency,
            *measures,
        )
        for column, value in zip(columns.values(), values, strict=True):
            column.append(value)
    return pa.RecordBatch.from_pydict(columns)


def _canonical(table: pa.Table) -> list[dict[str, Any]]:
    return sorted(table.to_pylist(), key=lambda row: tuple(str(v) for v in row.values()))


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    batches=st.lists(BATCH, min_size=1, max_size=4),
    rebuild_after=st.none() | st.integers(0, 3),
    requests=st.lists(REQUEST, min_size=1, max_size=6),
)
def test_rollup_answers_equal_fact_answers(
    ch_client: Any,
    batches: list[list[Any]],
    rebuild_after: int | None,
    requests: list[Any],
) -> None:
    tenant = f"t-{uuid.uuid4().hex[:12]}"
    store = ClickHouseFactStore(ch_client)
    for i, rows in enumerate(batches):
        store.insert(tenant, i + 1, _batch(rows, i + 1))
        if rebuild_after == i:  # a backfill between deliveries changes nothing either
            ClickHouseRollups(ch_client).rebuild(tenant, FIRST_DAY, FIRST_DAY + dt.timedelta(days=DAYS))
    assert (
        ClickHouseRollups(ch_client).mismatches(tenant, FIRST_DAY, FIRST_DAY + dt.timedelta(days=DAYS)) == []
    )
    for dimensions, granularity, filters, start, end in requests:
        query = MetricsQuery(
            selection=FactSelection(tenant, start, end, tuple(filters)),
            dimensions=tuple(dimensions),
            granularity=granularity,
            order_by=(),
            offset=0,
            page_size=100,
        )
        source = choose_source(query.selection, query.group_columns, "")
        # Every column here is in campaign_daily, so a fact answer would test nothing.
        assert source is not Source.FACTS
        with_name = "campaign_id" in query.key_columns
        answers = [
            _canonical(store.grouped_sums(query.selection, query.group_columns, with_name, source=s))
            for s in (Source.FACTS, source)
        ]
        assert answers[1] == answers[0], (source, query)


def test_planner_picks_the_coarsest_source() -> None:
    selection = FactSelection("t", None, None)

    def plan(*dimensions: Dimension, currency: str = "", on: Dimension | None = None) -> Source:
        chosen = selection
        if on:
            chosen = FactSelection("t", None, None, (DimensionFilter(on, ("x",)),))
        query = MetricsQuery(chosen, dimensions, Granularity.WEEK, (), 0, 10)
        return choose_source(query.selection, query.group_columns, currency)

    assert plan(Dimension.PLATFORM) is Source.ACCOUNT_DAILY
    assert plan(Dimension.DATE, Dimension.ACCOUNT) is Source.ACCOUNT_DAILY
    assert plan() is Source.ACCOUNT_DAILY
    assert plan(Dimension.CAMPAIGN) is Source.CAMPAIGN_DAILY
    assert plan(Dimension.PLATFORM, on=Dimension.CAMPAIGN) is Source.CAMPAIGN_DAILY
    assert plan(Dimension.AD_GROUP) is Source.FACTS
    assert plan(Dimension.PLATFORM, on=Dimension.AD) is Source.FACTS
    assert plan(Dimension.PLATFORM, currency="EUR") is Source.FACTS
