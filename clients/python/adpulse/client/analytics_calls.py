"""Analytics calls: metrics, trends, anomalies, explanations, insights, budgets."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Literal, TypeVar

from adpulse.client.connection import Connection
from adpulse.client.metrics import MetricsRecord, MetricsResult
from adpulse.v1 import analytics_service_pb2 as apb

DIMENSIONS = {
    "date": apb.DIMENSION_DATE,
    "platform": apb.DIMENSION_PLATFORM,
    "account": apb.DIMENSION_ACCOUNT,
    "campaign": apb.DIMENSION_CAMPAIGN,
    "ad_group": apb.DIMENSION_AD_GROUP,
    "ad": apb.DIMENSION_AD,
    "currency": apb.DIMENSION_CURRENCY,
}
GRANULARITIES = {
    "day": apb.TIME_GRANULARITY_DAY,
    "week": apb.TIME_GRANULARITY_WEEK,
    "month": apb.TIME_GRANULARITY_MONTH,
}
METRICS = {
    name: getattr(apb, f"METRIC_{name.upper()}")
    for name in (
        "impressions",
        "clicks",
        "cost",
        "conversions",
        "revenue",
        "ctr",
        "cpc",
        "cpm",
        "cvr",
        "cpa",
        "roas",
        "roi",
    )
}
METHODS = {
    "auto": apb.ANOMALY_METHOD_AUTO,
    "zscore": apb.ANOMALY_METHOD_ZSCORE,
    "mad": apb.ANOMALY_METHOD_MAD,
    "seasonal": apb.ANOMALY_METHOD_SEASONAL,
    "week_over_week": apb.ANOMALY_METHOD_WEEK_OVER_WEEK,
    "cold_start": apb.ANOMALY_METHOD_COLD_START,
}
SENSITIVITIES = {"low": apb.SENSITIVITY_LOW, "medium": apb.SENSITIVITY_MEDIUM, "high": apb.SENSITIVITY_HIGH}
INSIGHT_STATUSES = {
    "new": apb.INSIGHT_STATUS_NEW,
    "acknowledged": apb.INSIGHT_STATUS_ACKNOWLEDGED,
    "dismissed": apb.INSIGHT_STATUS_DISMISSED,
}
KINDS = {
    "account": apb.DIMENSION_ACCOUNT,
    "campaign": apb.DIMENSION_CAMPAIGN,
    "ad_group": apb.DIMENSION_AD_GROUP,
    "ad": apb.DIMENSION_AD,
}
MATCHES = {"prefix": apb.SEARCH_MATCH_PREFIX, "substring": apb.SEARCH_MATCH_SUBSTRING}
Granularity = Literal["day", "week", "month"]
Named = TypeVar("Named")


def lookup(table: Mapping[str, Named], name: str, what: str) -> Named:
    """`table[name]`, or a ValueError that lists the valid names (not a bare KeyError)."""
    try:
        return table[name]
    except KeyError:
        raise ValueError(f"unknown {what} {name!r}; valid: {', '.join(sorted(table))}") from None


class AnalyticsCalls(Connection):
    def query_metrics_page(self, request: apb.QueryMetricsRequest) -> apb.QueryMetricsResponse:
        return self._call(self._analytics.QueryMetrics, request)

    def query_metrics(
        self,
        *,
        start: str = "",
        end: str = "",
        by: Sequence[str] = (),
        granularity: Granularity = "day",
        filters: Mapping[str, Sequence[str]] | None = None,
        exclude: Mapping[str, Sequence[str]] | None = None,
        order_by: str = "",
        limit: int | None = None,
        currency: str = "",
    ) -> MetricsResult:
        """Sums and KPIs grouped by `by` (dimension names), following pages up to `limit` rows."""
        request = apb.QueryMetricsRequest(
            start_date=start,
            end_date=end,
            dimensions=[lookup(DIMENSIONS, d, "dimension") for d in by],
            granularity=lookup(GRANULARITIES, granularity, "granularity"),
            filters=[
                apb.DimensionFilter(
                    dimension=lookup(DIMENSIONS, d, "dimension"), values=list(values), exclude=excluded
                )
                for excluded, mapping in ((False, filters or {}), (True, exclude or {}))
                for d, values in mapping.items()
            ],
            order_by=order_by,
            page_size=1000 if limit is None else max(1, min(limit, 1000)),
            reporting_currency=currency,
        )
        rows: list[MetricsRecord] = []
        while True:
            page = self.query_metrics_page(request)
            rows.extend(MetricsRecord.from_proto(r) for r in page.rows)
            if not page.next_page_token or (limit is not None and len(rows) >= limit):
                break
            request.page_token = page.next_page_token
        return MetricsResult(
            rows=rows[:limit] if limit is not None else rows,
            totals=MetricsRecord.from_proto(page.totals),
            total_size=page.total_size,
        )

    def search_page(self, request: apb.SearchDimensionValuesRequest) -> apb.SearchDimensionValuesResponse:
        return self._call(self._analytics.SearchDimensionValues, request)

    def search(
        self,
        query: str,
        *,
        match: str = "prefix",
        kinds: Sequence[str] = (),
        platforms: Sequence[str] = (),
        limit: int = 20,
    ) -> apb.SearchDimensionValuesResponse:
        """Accounts, campaigns, ad groups and ads whose id or name matches `query` (prefix or
        substring, case-insensitive), highest recent cost first: up to `limit` values, following
        pages; the response's `values` hold them, `total_size` counts every match."""
        request = apb.SearchDimensionValuesRequest(
            query=query,
            match=lookup(MATCHES, match, "match"),
            kinds=[lookup(KINDS, k, "kind") for k in kinds],
            platforms=list(platforms),
            page_size=max(1, limit),
        )
        result = apb.SearchDimensionValuesResponse()
        while True:
            page: apb.SearchDimensionValuesResponse = self._call(
                self._analytics.SearchDimensionValues, request
            )
            found = [*result.values, *page.values][:limit]
            result.CopyFrom(page)
            del result.values[:]
            result.values.extend(found)
            if not page.next_page_token or len(found) >= limit:
                result.next_page_token = page.next_page_token if len(found) >= limit else ""
                return result
            request.page_token = page.next_page_token

    # Analytics beyond QueryMetrics return the response messages themselves: they are nested
    # (series of points, dimensions of contributors), and `google.protobuf.json_format` turns
    # them into plain dicts when needed.

    def get_trends(
        self,
        *,
        metrics: Sequence[str],
        by: Sequence[str] = (),
        start: str = "",
        end: str = "",
        granularity: Granularity = "day",
        filters: Mapping[str, Sequence[str]] | None = None,
        moving_average: int = 0,
        limit: int | None = None,
    ) -> apb.GetTrendsResponse:
        """Series per group (all pages, up to `limit` series)."""
        request = apb.GetTrendsRequest(
            start_date=start,
            end_date=end,
            metrics=[lookup(METRICS, m, "metric") for m in metrics],
            dimensions=[lookup(DIMENSIONS, d, "dimension") for d in by],
            granularity=lookup(GRANULARITIES, granularity, "granularity"),
            filters=_filters(filters),
            moving_average=moving_average,
            page_size=1000 if limit is None else max(1, min(limit, 1000)),
        )
        result = apb.GetTrendsResponse()
        while True:
            page: apb.GetTrendsResponse = self._call(self._analytics.GetTrends, request)
            series = list(result.series) + list(page.series)
            result.CopyFrom(page)
            del result.series[:]
            result.series.extend(series[:limit] if limit is not None else series)
            if not page.next_page_token or (limit is not None and len(series) >= limit):
                return result
            request.page_token = page.next_page_token

    def detect_anomalies(
        self,
        *,
        metric: str,
        by: Sequence[str] = (),
        start: str = "",
        end: str = "",
        filters: Mapping[str, Sequence[str]] | None = None,
        method: str = "auto",
        sensitivity: str = "medium",
        window_days: int = 0,
        min_change: float | None = None,
        include_series: bool = False,
    ) -> apb.DetectAnomaliesResponse:
        request = apb.DetectAnomaliesRequest(
            start_date=start,
            end_date=end,
            metric=lookup(METRICS, metric, "metric"),
            dimensions=[lookup(DIMENSIONS, d, "dimension") for d in by],
            filters=_filters(filters),
            method=lookup(METHODS, method, "method"),
            sensitivity=lookup(SENSITIVITIES, sensitivity, "sensitivity"),
            window_days=window_days,
            include_series=include_series,
        )
        if min_change is not None:
            request.min_change.value = min_change
        response: apb.DetectAnomaliesResponse = self._call(self._analytics.DetectAnomalies, request)
        return response

    def explain_change(
        self,
        *,
        metric: str,
        start: str,
        end: str,
        baseline_start: str = "",
        baseline_end: str = "",
        by: Sequence[str] = (),
        filters: Mapping[str, Sequence[str]] | None = None,
        max_contributors: int = 0,
    ) -> apb.ExplainChangeResponse:
        request = apb.ExplainChangeRequest(
            metric=lookup(METRICS, metric, "metric"),
            current_start_date=start,
            current_end_date=end,
            baseline_start_date=baseline_start,
            baseline_end_date=baseline_end,
            dimensions=[lookup(DIMENSIONS, d, "dimension") for d in by],
            filters=_filters(filters),
            max_contributors=max_contributors,
        )
        response: apb.ExplainChangeResponse = self._call(self._analytics.ExplainChange, request)
        return response

    def generate_insights(
        self,
        *,
        start: str = "",
        end: str = "",
        filters: Mapping[str, Sequence[str]] | None = None,
        sensitivity: str = "medium",
        max_shift: float | None = None,
        stories: bool = False,
        max_insights: int = 0,
        page_size: int = 0,
        page_token: str = "",
    ) -> apb.GenerateInsightsResponse:
        """One page of ranked insights (`next_page_token` names the next)."""
        request = apb.GenerateInsightsRequest(
            start_date=start,
            end_date=end,
            filters=_filters(filters),
            sensitivity=lookup(SENSITIVITIES, sensitivity, "sensitivity"),
            include_stories=stories,
            max_insights=max_insights,
            page_size=page_size,
            page_token=page_token,
        )
        if max_shift is not None:
            request.max_shift.value = max_shift
        response: apb.GenerateInsightsResponse = self._call(self._analytics.GenerateInsights, request)
        return response

    def list_insights(
        self, *, statuses: Sequence[str] = (), campaign_id: str = "", limit: int | None = None
    ) -> list[apb.Insight]:
        """Stored insights, highest priority first (all pages, up to `limit`)."""
        request = apb.ListInsightsRequest(
            statuses=[INSIGHT_STATUSES[s] for s in statuses],
            campaign_id=campaign_id,
            page_size=1000 if limit is None else max(1, min(limit, 1000)),
        )
        found: list[apb.Insight] = []
        while True:
            page: apb.ListInsightsResponse = self._call(self._analytics.ListInsights, request)
            found.extend(page.insights)
            if not page.next_page_token or (limit is not None and len(found) >= limit):
                return found[:limit] if limit is not None else found
            request.page_token = page.next_page_token

    def update_insight(
        self, name: str, *, status: str | None = None, feedback: str | None = None
    ) -> apb.Insight:
        """Changes an insight's status (new, acknowledged, dismissed) and/or feedback."""
        insight = apb.Insight(name=name)
        paths = []
        if status is not None:
            insight.status = INSIGHT_STATUSES[status]
            paths.append("status")
        if feedback is not None:
            insight.feedback = feedback
            paths.append("feedback")
        request = apb.UpdateInsightRequest(insight=insight)
        request.update_mask.paths.extend(paths)
        response: apb.Insight = self._call(self._analytics.UpdateInsight, request)
        return response

    def set_budget(
        self,
        *,
        platform: str,
        account_id: str,
        campaign_id: str,
        month: str,
        amount_micros: int,
        currency: str,
    ) -> apb.Budget:
        budget = apb.Budget(
            platform=platform,
            account_id=account_id,
            campaign_id=campaign_id,
            month=month,
            amount_micros=amount_micros,
            currency=currency,
        )
        response: apb.Budget = self._call(self._analytics.SetBudget, apb.SetBudgetRequest(budget=budget))
        return response


def _filters(filters: Mapping[str, Sequence[str]] | None) -> list[apb.DimensionFilter]:
    return [
        apb.DimensionFilter(dimension=lookup(DIMENSIONS, d, "dimension"), values=list(v))
        for d, v in (filters or {}).items()
    ]
