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
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from adpulse.server.domain.metrics_query import (
    Dimension,
    DimensionFilter,
    FactSelection,
    Granularity,
    MetricsQuery,
)
from adpulse.server.domain.query_plan import Source, choose_source, full_months
from adpulse.server.storage.fact_store import ClickHouseFactStore
from adpulse.server.storage.rollups import ClickHouseRollups

# A small key space (112 fact keys), so later batches often restate rows of earlier ones, on
# days around and inside a whole month (February) over three partitions.
FIRST_DAY = dt.date(2026, 1, 30)
DAYS = 32
DAY_CHOICES = (0, 1, 2, 15, 29, 30, 31)  # Jan 30, Jan 31, Feb 1, Feb 15, Feb 28, Mar 1, Mar 2
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
    st.sampled_from(DAY_CHOICES),
    st.sampled_from(PLATFORMS),
    st.sampled_from(ACCOUNTS),
    st.sampled_from(CAMPAIGNS),
    st.sampled_from(ADS),
)
MEASURES = st.tuples(*(st.integers(0, 10**12) for _ in range(5)))
# One currency per batch: a restatement often moves all of a campaign's rows of a day or month
# to the other currency, so the rollup key of the old one must vanish.
BATCH = st.tuples(
    st.sampled_from(CURRENCIES),
    st.lists(st.tuples(KEYS, MEASURES), min_size=1, max_size=30, unique_by=lambda r: r[0]),
)
FILTER = st.sampled_from(list(VALUES)).flatmap(
    lambda dim: st.builds(
        DimensionFilter,
        st.just(dim),
        st.lists(st.sampled_from(VALUES[dim]), min_size=1, max_size=2, unique=True).map(tuple),
        st.booleans(),
    )
)


def _day(choices: tuple[int | None, ...]) -> st.SearchStrategy[dt.date | None]:
    return st.sampled_from(choices).map(lambda d: None if d is None else FIRST_DAY + dt.timedelta(days=d))


# Ranges that often hold all of February, so the monthly rollup answers too.
START, END = _day((None, 0, 2, 15)), _day((None, 15, 29, 31))
REQUEST = st.tuples(
    st.lists(
        st.sampled_from([Dimension.DATE, *VALUES]),
        max_size=3,
        unique=True,
    ),
    st.sampled_from(Granularity),
    st.lists(FILTER, max_size=2),
    START,
    END,
)


def _batch(currency: str, rows: list[Any], version: int) -> pa.RecordBatch:
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
    for (day, platform, account, campaign, (group, ad)), measures in rows:
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
# The one ad of a campaign's February moves to another currency: its old keys must vanish from
# the daily and the monthly rollup.
@example(
    batches=[
        (currency, [((15, PLATFORMS[0], "a1", "c1", ADS[0]), (1, 2, 3, 4, 5))]) for currency in CURRENCIES
    ],
    rebuild_after=None,
    requests=[([Dimension.CAMPAIGN], Granularity.DAY, [], FIRST_DAY, FIRST_DAY + dt.timedelta(days=31))],
).via("a currency move")
# Requests at a daily rollup's own grain read its rows without re-grouping them; a restated row
# (the second batch replaces the first's measures and name) must still answer once.
@example(
    batches=[
        ("EUR", [((3, PLATFORMS[0], "a1", "c1", ADS[0]), (1, 2, 3, 4, 5))]),
        ("EUR", [((3, PLATFORMS[0], "a1", "c1", ADS[0]), (6, 7, 8, 9, 10))]),
    ],
    rebuild_after=None,
    requests=[
        ([Dimension.CAMPAIGN, Dimension.DATE], Granularity.DAY, [], None, None),
        ([Dimension.DATE, Dimension.ACCOUNT], Granularity.DAY, [], FIRST_DAY, None),
    ],
).via("the rollups' own grain")
@given(
    batches=st.lists(BATCH, min_size=1, max_size=4),
    rebuild_after=st.none() | st.integers(0, 3),
    requests=st.lists(REQUEST, min_size=1, max_size=6),
)
def test_rollup_answers_equal_fact_answers(
    ch_client: Any,
    batches: list[tuple[str, list[Any]]],
    rebuild_after: int | None,
    requests: list[Any],
) -> None:
    tenant = f"t-{uuid.uuid4().hex[:12]}"
    store = ClickHouseFactStore(ch_client)
    for i, (currency, rows) in enumerate(batches):
        store.insert(tenant, i + 1, _batch(currency, rows, i + 1))
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
        # Every column here is in campaign_daily, so a fact answer would test nothing.
        assert choose_source(query.selection, query.group_columns, "") is not Source.FACTS
        with_name = "campaign_id" in query.key_columns
        want = _canonical(
            store.grouped_sums(query.selection, query.group_columns, with_name, source=Source.FACTS)
        )
        for source in _able(query):
            got = _canonical(
                store.grouped_sums(query.selection, query.group_columns, with_name, source=source)
            )
            assert got == want, (source, query)


def _able(query: MetricsQuery) -> set[Source]:
    """Every rollup that can answer the query, whichever the planner prefers."""
    able = {choose_source(query.selection, query.group_columns, ""), Source.CAMPAIGN_DAILY}
    by_day = Dimension.DATE in query.dimensions and query.granularity is not Granularity.MONTH
    if not by_day and full_months(query.selection.start, query.selection.end):
        able.add(Source.CAMPAIGN_MONTHLY)
    return able


def test_planner_picks_the_coarsest_source() -> None:

    def plan(
        *dimensions: Dimension,
        currency: str = "",
        on: Dimension | None = None,
        days: tuple[str, str] | None = None,
        granularity: Granularity = Granularity.WEEK,
    ) -> Source:
        start, end = (dt.date.fromisoformat(d) for d in days) if days else (None, None)
        filters = (DimensionFilter(on, ("x",)),) if on else ()
        query = MetricsQuery(FactSelection("t", start, end, filters), dimensions, granularity, (), 0, 10)
        return choose_source(query.selection, query.group_columns, currency)

    assert plan(Dimension.PLATFORM) is Source.ACCOUNT_DAILY
    assert plan(Dimension.DATE, Dimension.ACCOUNT) is Source.ACCOUNT_DAILY
    assert plan() is Source.ACCOUNT_DAILY
    assert plan(Dimension.CAMPAIGN) is Source.CAMPAIGN_DAILY
    assert plan(Dimension.PLATFORM, on=Dimension.CAMPAIGN) is Source.CAMPAIGN_DAILY
    assert plan(Dimension.AD_GROUP) is Source.FACTS
    assert plan(Dimension.PLATFORM, on=Dimension.AD) is Source.FACTS
    assert plan(Dimension.PLATFORM, currency="EUR") is Source.FACTS
    year = ("2025-01-10", "2025-12-31")
    assert plan(Dimension.CAMPAIGN, days=year) is Source.CAMPAIGN_MONTHLY
    assert plan(Dimension.CAMPAIGN, Dimension.DATE, days=year, granularity=Granularity.MONTH) is (
        Source.CAMPAIGN_MONTHLY
    )
    assert plan(Dimension.CAMPAIGN, Dimension.DATE, days=year) is Source.CAMPAIGN_DAILY
    assert plan(Dimension.CAMPAIGN, days=("2025-01-02", "2025-02-27")) is Source.CAMPAIGN_DAILY
    assert full_months(dt.date(2025, 1, 2), dt.date(2025, 3, 31)) == (
        dt.date(2025, 2, 1),
        dt.date(2025, 3, 1),
    )
    assert full_months(dt.date(2025, 2, 1), dt.date(2025, 2, 28)) == (
        dt.date(2025, 2, 1),
        dt.date(2025, 2, 1),
    )
