"""QueryMetrics: the store sums, the kernel turns sums into KPIs, then one page is cut.

The store groups by the requested columns *and currency*, so the kernel can tell a group that
spans several currencies (its money is not summable) from one that does not. With a reporting
currency the store converts each row at its date's rate first, so nothing is mixed. Totals come
from the same grouped sums, so a page and its totals can never disagree. The sums come from the
coarsest daily rollup that holds every column the query needs (domain/query_plan.py).

Results are cached whole (every group, sorted) under the tenant's data version, so repeating a
query or asking for its next page costs a version lookup and a slice.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import pyarrow.compute as pc

from adpulse.server.domain.analytics import too_many_groups
from adpulse.server.domain.errors import FailedPrecondition
from adpulse.server.domain.fx import MissingRate
from adpulse.server.domain.metrics_query import MetricsQuery
from adpulse.server.domain.query_plan import Source, choose_source
from adpulse.server.ports import DataVersions, FactStore, Kernel, TenantSettingsStore
from adpulse.server.usecases.analytics import require_series_within
from adpulse.server.usecases.result_cache import ResultCache

if TYPE_CHECKING:
    import pyarrow as pa


@dataclass(frozen=True)
class MetricsResult:
    """Every group of a query, in order, with the totals: what the cache keeps."""

    groups: pa.Table
    totals: pa.Table
    source: Source

    @property
    def nbytes(self) -> int:
        return int(self.groups.nbytes + self.totals.nbytes)


@dataclass(frozen=True)
class MetricsPage:
    """One page of groups with the totals over all groups, and the data version they are of."""

    rows: pa.Table
    totals: pa.Table
    total_size: int
    next_offset: int | None
    source: Source
    version: int
    cached: bool


class QueryMetricsUseCase:
    def __init__(
        self,
        kernel: Kernel,
        facts: FactStore,
        settings: TenantSettingsStore,
        versions: DataVersions,
        cache: ResultCache[MetricsResult],
        *,
        max_groups: int,
    ) -> None:
        self._kernel = kernel
        self._facts = facts
        self._settings = settings
        self._versions = versions
        self._cache = cache
        self._max_groups = max_groups

    def execute(self, query: MetricsQuery, as_of: int | None = None) -> MetricsPage:
        """One page of the query's result. `as_of` is the data version an earlier page was cut
        from: while that result is cached, later pages come from it, so the pages of one
        listing agree even if data changed in between; otherwise they are of the current data."""
        tenant = query.selection.tenant
        currency = query.reporting_currency or self._settings.reporting_currency(tenant)
        # Paging fields are not part of the result; the resolved currency is.
        key = replace(query, offset=0, page_size=0, reporting_currency=currency)
        version = self._versions.current(tenant)
        result = None
        if as_of is not None and as_of != version:
            result = self._cache.get((as_of, key))
            version = as_of if result is not None else version
        if result is None:
            result = self._cache.get((version, key))
        cached = result is not None
        if result is None:
            result = self._compute(query, currency)
            self._cache.put((version, key), result, result.nbytes)
        end = query.offset + query.page_size
        return MetricsPage(
            rows=result.groups.slice(query.offset, query.page_size),
            totals=result.totals,
            total_size=result.groups.num_rows,
            next_offset=end if end < result.groups.num_rows else None,
            source=result.source,
            version=version,
            cached=cached,
        )

    def _compute(self, query: MetricsQuery, currency: str) -> MetricsResult:
        if currency:
            require_rates(self._facts.missing_rates(query.selection, currency), currency)
        # Every group is summed, aggregated, sorted and cached before a page is cut.
        require_series_within(
            self._facts,
            query.selection,
            query.key_columns,
            self._max_groups,
            granularity=query.granularity,
            refusal=too_many_groups,
        )
        with_name = "campaign_id" in query.key_columns
        source = choose_source(query.selection, query.group_columns, currency)
        sums = self._facts.grouped_sums(
            query.selection,
            query.group_columns,
            latest_campaign_name=with_name,
            reporting_currency=currency,
            source=source,
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
        return MetricsResult(groups, totals, source)


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
