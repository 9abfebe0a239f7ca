"""QueryMetrics: the store sums, the kernel turns sums into KPIs, then one page is cut.

The store groups by the requested columns *and currency*, so the kernel can tell a group that
spans several currencies (its money is not summable) from one that does not. With a reporting
currency the store converts each row at its date's rate first, so nothing is mixed. Totals come
from the same grouped sums, so a page and its totals can never disagree.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import pyarrow.compute as pc

from adpulse.server.domain.errors import FailedPrecondition
from adpulse.server.domain.fx import MissingRate
from adpulse.server.domain.metrics_query import MetricsQuery
from adpulse.server.ports import FactStore, Kernel, TenantSettingsStore

if TYPE_CHECKING:
    import pyarrow as pa


@dataclass(frozen=True)
class MetricsPage:
    """One page of groups with the totals over all groups."""

    rows: pa.Table
    totals: pa.Table
    total_size: int
    next_offset: int | None


class QueryMetricsUseCase:
    def __init__(self, kernel: Kernel, facts: FactStore, settings: TenantSettingsStore) -> None:
        self._kernel = kernel
        self._facts = facts
        self._settings = settings

    def execute(self, query: MetricsQuery) -> MetricsPage:
        currency = query.reporting_currency or self._settings.reporting_currency(query.selection.tenant)
        if currency:
            require_rates(self._facts.missing_rates(query.selection, currency), currency)
        with_name = "campaign_id" in query.key_columns
        sums = self._facts.grouped_sums(
            query.selection, query.group_columns, latest_campaign_name=with_name, reporting_currency=currency
        )
        keys = list(query.key_columns)
        groups = self._kernel.aggregate(sums, keys, ["campaign_name"] if with_name else [])
        totals = self._kernel.aggregate(sums, [])
        # Undefined KPIs sort last either way.
        order = [(k.field, "descending" if k.descending else "ascending", "at_end") for k in query.order_by]
        # Ties break on the group key, so pages never overlap or skip a group.
        order += [
            (col, "ascending", "at_end") for col in keys if col not in {k.field for k in query.order_by}
        ]
        if order:
            groups = groups.take(pc.sort_indices(groups, sort_keys=order))
        end = query.offset + query.page_size
        return MetricsPage(
            rows=groups.slice(query.offset, query.page_size),
            totals=totals,
            total_size=groups.num_rows,
            next_offset=end if end < groups.num_rows else None,
        )


def require_rates(missing: list[MissingRate], currency: str) -> None:
    """A missing rate is an error naming currency and date, never a silent 1.0 (or 0)."""
    if not missing:
        return
    first = missing[0]
    more = sum(m.count for m in missing) - 1
    raise FailedPrecondition(
        f"no {first.currency}→{currency} exchange rate for {first.dates[0]}"
        + (f" (and {more} more currency-days)" if more else "")
        + "; load rates with UpsertFxRates",
        "MISSING_FX_RATE",
        metadata={
            "reporting_currency": currency,
            **{f"missing.{m.currency}": ",".join(d.isoformat() for d in m.dates) for m in missing},
        },
    )
