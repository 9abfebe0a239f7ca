"""Which table answers a grouped sum: the coarsest daily rollup that holds every column the
request groups or filters by, else the fact table.

Rollups keep one row per day, so any date bucket (day, week, month) and any date range is a
sum of whole rollup rows. Money converted into a reporting currency is rounded row by row on
the fact rows (each at its own date's rate); a rollup row sums many fact rows, so converting it
would round differently: such requests read the facts.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence

from adpulse.server.domain.metrics_query import FactSelection, GroupColumn


class Source(enum.Enum):
    """Where sums come from; the value is the ClickHouse table."""

    FACTS = "ad_metrics"
    CAMPAIGN_DAILY = "campaign_daily"
    ACCOUNT_DAILY = "account_daily"


# Columns each rollup can group and filter by, coarsest rollup first.
ROLLUP_COLUMNS: dict[Source, frozenset[str]] = {
    Source.ACCOUNT_DAILY: frozenset({"date", "platform", "account_id", "currency"}),
    Source.CAMPAIGN_DAILY: frozenset({"date", "platform", "account_id", "campaign_id", "currency"}),
}


def choose_source(selection: FactSelection, groups: Sequence[GroupColumn], reporting_currency: str) -> Source:
    if reporting_currency:
        return Source.FACTS
    needed = {g.column for g in groups} | {f.dimension.column for f in selection.filters}
    for source, columns in ROLLUP_COLUMNS.items():
        if needed <= columns:
            return source
    return Source.FACTS
