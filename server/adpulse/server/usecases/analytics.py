"""GetTrends, DetectAnomalies, ExplainChange: the store sums per group and day (or bucket), the
kernel computes; these use cases choose what to fetch and cut pages."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.compute as pc

from adpulse.server.domain.analytics import (
    DEFAULT_DETECT_DAYS,
    DEFAULT_TREND_DAYS,
    AnomalyQuery,
    ExplainQuery,
    Metric,
    TrendsQuery,
    incident_confidence,
    too_many_series,
)
from adpulse.server.domain.errors import FailedPrecondition, InvalidArgument
from adpulse.server.domain.metrics_query import FactSelection, Granularity, GroupColumn
from adpulse.server.domain.restatement import RestatementWindows
from adpulse.server.ports import FactStore, Kernel, TenantSettingsStore

if TYPE_CHECKING:
    from adpulse._kernel import Explanation

# The seasonal baseline reads four weeks of same-weekday history for every day of its residual
# window: a day needs this many days before it (beyond the window) to be judged at full strength.
SEASONAL_HISTORY_DAYS = 35


def daily_sums(
    facts: FactStore,
    selection: FactSelection,
    key_columns: Sequence[str],
    granularity: Granularity = Granularity.DAY,
    reporting_currency: str = "",
) -> pa.Table:
    """Sums per group, date bucket and currency, with the campaign's newest name."""
    groups = [GroupColumn(col) for col in key_columns] + [GroupColumn("date", granularity)]
    return facts.grouped_sums(
        selection,
        groups,
        latest_campaign_name="campaign_id" in key_columns,
        reporting_currency=reporting_currency,
    )


def require_series_within(
    facts: FactStore,
    selection: FactSelection,
    keys: Sequence[str],
    cap: int,
    *,
    granularity: Granularity = Granularity.DAY,
    refusal: Callable[[int], InvalidArgument] = too_many_series,
) -> None:
    """Refuses a split into more than `cap` series (or groups) before any is fetched: the sums,
    the kernel's work and the answer all grow with their number."""
    if keys and facts.count_groups(selection, keys, cap + 1, granularity) > cap:
        raise refusal(cap)


def carry_of(key_columns: Sequence[str]) -> list[str]:
    return ["campaign_name"] if "campaign_id" in key_columns else []


@dataclass(frozen=True)
class TrendsPage:
    metrics: tuple[Metric, ...]
    start: dt.date
    end: dt.date
    points: pa.Table
    summaries: pa.Table
    total_size: int
    next_offset: int | None
    reporting_currency: str


class TrendsUseCase:
    """Money is summed per bucket: in the tenant's reporting currency (each row converted at
    its date's rate) when one is set, else in the rows' own; the kernel leaves money unset only
    in the buckets whose rows are in several currencies (a rate missing for some of a bucket's
    days, or two currencies and no reporting currency), and names each bucket's currency."""

    def __init__(
        self, kernel: Kernel, facts: FactStore, settings: TenantSettingsStore, max_series: int
    ) -> None:
        self._kernel = kernel
        self._facts = facts
        self._settings = settings
        self._max_series = max_series

    def execute(self, query: TrendsQuery, today: dt.date) -> TrendsPage:
        selection = FactSelection(query.tenant, None, None, query.filters)
        span = self._facts.date_span(selection)
        start, end = query.dates.resolve(span[1] if span else today, DEFAULT_TREND_DAYS)
        granularity = query.granularity.value
        history = self._kernel.trends_history_start(granularity, start, end, query.moving_average)
        keys = list(query.key_columns)
        read = FactSelection(query.tenant, history, end, query.filters)
        require_series_within(self._facts, read, keys, self._max_series)
        currency = self._settings.reporting_currency(query.tenant)
        sums = daily_sums(self._facts, read, keys, reporting_currency=currency)
        points, summaries = self._kernel.trends(
            sums,
            keys,
            [m.value for m in query.metrics],
            granularity,
            start,
            end,
            moving_average=query.moving_average,
            carry=carry_of(keys),
        )
        first, last = query.offset, query.offset + query.page_size
        in_page = pc.and_(pc.greater_equal(points["series"], first), pc.less(points["series"], last))
        first_bucket = points["date"][0].as_py() if points.num_rows else start
        return TrendsPage(
            metrics=query.metrics,
            start=first_bucket,
            end=end,
            points=points.filter(in_page),
            summaries=summaries.slice(first, query.page_size),
            total_size=summaries.num_rows,
            next_offset=last if last < summaries.num_rows else None,
            reporting_currency=currency,
        )


@dataclass(frozen=True)
class AnomalyReport:
    metric: Metric
    start: dt.date
    end: dt.date
    anomalies: pa.Table
    incidents: pa.Table
    series: pa.Table | None


class AnomaliesUseCase:
    def __init__(
        self,
        kernel: Kernel,
        facts: FactStore,
        restatement: RestatementWindows,
        today: Callable[[], dt.date],
        max_series: int,
    ) -> None:
        self._kernel = kernel
        self._facts = facts
        self._restatement = restatement
        self._today = today
        self._max_series = max_series

    def execute(self, query: AnomalyQuery) -> AnomalyReport:
        selection = FactSelection(query.tenant, None, None, query.filters)
        span = self._facts.date_span(selection)
        today = self._today()
        start, end = query.dates.resolve(span[1] if span else today, DEFAULT_DETECT_DAYS)
        keys = list(query.key_columns)
        history = start - dt.timedelta(days=query.window_days + SEASONAL_HISTORY_DAYS)
        read = FactSelection(query.tenant, history, end, query.filters)
        require_series_within(self._facts, read, keys, self._max_series)
        sums = daily_sums(self._facts, read, keys)
        points, incidents = self.detect(
            sums,
            keys,
            query.metric,
            start,
            end,
            method=query.method.value,
            **query.sensitivity.detection_options(query.metric),
            window=query.window_days,
            min_change=query.min_change,
            all_points=query.include_series,
            platforms=self._facts.platforms(FactSelection(query.tenant, start, end, query.filters)),
        )
        return AnomalyReport(
            metric=query.metric,
            start=start,
            end=end,
            anomalies=points.filter(points["anomaly"]) if query.include_series else points,
            incidents=incidents,
            series=points if query.include_series else None,
        )

    def detect(
        self,
        sums: pa.Table,
        keys: Sequence[str],
        metric: Metric,
        start: dt.date,
        end: dt.date,
        *,
        platforms: Sequence[str],
        **options: object,
    ) -> tuple[pa.Table, pa.Table]:
        """Runs the kernel's detection with the restatement windows as of today; incidents come
        most severe first, each with its confidence."""
        today = self._today()
        provisional = {p: self._restatement.provisional_from(p, today) for p in platforms}
        # A series that is not split by platform is as provisional as its slowest platform.
        default = min(provisional.values(), default=end + dt.timedelta(days=1))
        points, incidents = self._kernel.detect_anomalies(
            sums,
            keys,
            metric.value,
            start,
            end,
            provisional_from=provisional,
            default_provisional_from=default,
            carry=carry_of(keys),
            **options,  # type: ignore[arg-type]
        )
        confidence = pa.array(
            [incident_confidence(s, metric) for s in incidents["peak_score"].to_pylist()],
            pa.float64(),
        )
        incidents = incidents.append_column("confidence", confidence)
        if incidents.num_rows:
            magnitude = pc.abs(incidents["peak_score"])
            incidents = incidents.append_column("magnitude", magnitude)
            incidents = incidents.sort_by([("severity", "descending"), ("magnitude", "descending")])
            incidents = incidents.drop_columns(["magnitude"])
        return points, incidents


@dataclass(frozen=True)
class ChangeExplanation:
    query: ExplainQuery
    explanation: Explanation
    dimension_keys: dict[str, tuple[str, ...]]


class ExplainChangeUseCase:
    def __init__(self, kernel: Kernel, facts: FactStore) -> None:
        self._kernel = kernel
        self._facts = facts

    def execute(self, query: ExplainQuery) -> ChangeExplanation:
        keys = list(dict.fromkeys(col for dim in query.dimensions for col in dim.key_columns))
        periods = []
        for label, period in enumerate((query.baseline, query.current)):
            sums = self._facts.grouped_sums(
                query.selection(period),
                [GroupColumn(col) for col in keys],
                latest_campaign_name="campaign_id" in keys,
            )
            periods.append(sums.append_column("period", pa.array([label] * sums.num_rows, pa.int8())))
        return self.explain_table(query, pa.concat_tables(periods, promote_options="permissive"))

    def explain_table(self, query: ExplainQuery, table: pa.Table) -> ChangeExplanation:
        """Explains from sums already fetched: by the query's key columns and currency, with
        `period` 0 (baseline) or 1 (current); rows may be per day too, as the kernel sums them."""
        dimension_keys = {dim.value: dim.key_columns for dim in query.dimensions}
        explanation = self._kernel.explain_change(
            table,
            [(name, list(cols), carry_of(cols)) for name, cols in dimension_keys.items()],
            query.metric.value,
            limit=query.max_contributors,
        )
        if query.metric.is_money and not explanation.money_known:
            raise FailedPrecondition(
                f"{query.metric.value} sums money in several currencies; filter by one currency",
                "MIXED_CURRENCIES",
            )
        return ChangeExplanation(query, explanation, dimension_keys)
