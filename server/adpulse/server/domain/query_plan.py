"""Which table answers a grouped sum: the coarsest rollup that holds every column the request
groups or filters by, else the fact table.

Daily rollups keep one row per day, so any date bucket (day, week, month) and any date range is
a sum of whole rollup rows. The monthly campaign rollup answers the whole months of a range
(the days at its ends come from the daily one) when no bucket is smaller than a month.

Money converted into a reporting currency is rounded row by row on the fact rows (each at its
own date's rate); a rollup row sums many fact rows, so converting it would round differently:
such requests read the facts.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Sequence

from adpulse.server.domain.metrics_query import FactSelection, Granularity, GroupColumn


class Source(enum.Enum):
    """Where sums come from; the value is the ClickHouse table."""

    FACTS = "ad_metrics"
    CAMPAIGN_DAILY = "campaign_daily"
    ACCOUNT_DAILY = "account_daily"
    CAMPAIGN_MONTHLY = "campaign_monthly"


ACCOUNT_COLUMNS = frozenset({"date", "platform", "account_id", "currency"})
CAMPAIGN_COLUMNS = ACCOUNT_COLUMNS | {"campaign_id"}


def choose_source(selection: FactSelection, groups: Sequence[GroupColumn], reporting_currency: str) -> Source:
    if reporting_currency:
        return Source.FACTS
    needed = {g.column for g in groups} | {f.dimension.column for f in selection.filters}
    if needed <= ACCOUNT_COLUMNS:
        return Source.ACCOUNT_DAILY
    if not needed <= CAMPAIGN_COLUMNS:
        return Source.FACTS
    by_day = any(g.column == "date" and g.granularity is not Granularity.MONTH for g in groups)
    if not by_day and full_months(selection.start, selection.end):
        return Source.CAMPAIGN_MONTHLY
    return Source.CAMPAIGN_DAILY


def full_months(start: dt.date | None, end: dt.date | None) -> tuple[dt.date, dt.date] | None:
    """The first days of the first and last whole month within `start`..`end`; None if none."""
    if start is None or end is None:
        return None
    first = start if start.day == 1 else (start.replace(day=1) + dt.timedelta(days=32)).replace(day=1)
    last = ((end + dt.timedelta(days=1)).replace(day=1) - dt.timedelta(days=1)).replace(day=1)
    return (first, last) if first <= last else None
