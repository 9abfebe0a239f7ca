"""adpulse.v1.AnalyticsService over the query, analytics and insights use cases."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

import grpc

from adpulse.server.domain.analytics import build_anomaly_query, build_explain_query, build_trends_query
from adpulse.server.domain.errors import FieldViolation, InvalidArgument
from adpulse.server.domain.insights import (
    InsightFilter,
    build_budget,
    build_insights_request,
    build_list_query,
    build_update,
    parse_month,
)
from adpulse.server.domain.metrics_query import (
    Dimension,
    DimensionFilter,
    Granularity,
    build_query,
    clamp_page_size,
)
from adpulse.server.domain.query_plan import Source
from adpulse.server.transport import analytics_convert as convert
from adpulse.server.transport import anomaly_messages, boundary, page_token
from adpulse.server.transport.tenancy import tenant_of
from adpulse.server.usecases.analytics import AnomaliesUseCase, ExplainChangeUseCase, TrendsUseCase
from adpulse.server.usecases.insights import InsightsUseCase
from adpulse.server.usecases.query_metrics import QueryMetricsUseCase
from adpulse.server.usecases.search import SearchUseCase
from adpulse.v1 import analytics_service_pb2 as pb
from adpulse.v1 import analytics_service_pb2_grpc as pb_grpc

_DIMENSIONS = {
    pb.DIMENSION_DATE: Dimension.DATE,
    pb.DIMENSION_PLATFORM: Dimension.PLATFORM,
    pb.DIMENSION_ACCOUNT: Dimension.ACCOUNT,
    pb.DIMENSION_CAMPAIGN: Dimension.CAMPAIGN,
    pb.DIMENSION_AD_GROUP: Dimension.AD_GROUP,
    pb.DIMENSION_AD: Dimension.AD,
    pb.DIMENSION_CURRENCY: Dimension.CURRENCY,
}
_GRANULARITIES = {
    pb.TIME_GRANULARITY_UNSPECIFIED: Granularity.DAY,
    pb.TIME_GRANULARITY_DAY: Granularity.DAY,
    pb.TIME_GRANULARITY_WEEK: Granularity.WEEK,
    pb.TIME_GRANULARITY_MONTH: Granularity.MONTH,
}
_SOURCES = {
    Source.FACTS: pb.QUERY_SOURCE_FACTS,
    Source.CAMPAIGN_DAILY: pb.QUERY_SOURCE_CAMPAIGN_DAILY,
    Source.ACCOUNT_DAILY: pb.QUERY_SOURCE_ACCOUNT_DAILY,
    Source.CAMPAIGN_MONTHLY: pb.QUERY_SOURCE_CAMPAIGN_MONTHLY,
}
T = TypeVar("T")
_ROW_FIELDS = ("platform", "account_id", "campaign_id", "campaign_name", "ad_group_id", "ad_id")
_KPIS = ("ctr", "cpc", "cpm", "cvr", "cpa", "roas", "roi")


@dataclass(frozen=True)
class AnalyticsUseCases:
    """The use cases behind the analytics RPCs."""

    trends: TrendsUseCase
    anomalies: AnomaliesUseCase
    explain: ExplainChangeUseCase
    insights: InsightsUseCase
    search: SearchUseCase
    today: Callable[[], dt.date]


class AnalyticsServicer(pb_grpc.AnalyticsServiceServicer):
    def __init__(self, query_metrics: QueryMetricsUseCase, analytics: AnalyticsUseCases) -> None:
        self._query_metrics = query_metrics
        self._analytics = analytics

    @boundary.unary
    def QueryMetrics(  # noqa: N802 - the RPC's name
        self, request: pb.QueryMetricsRequest, context: grpc.ServicerContext
    ) -> pb.QueryMetricsResponse:
        tenant = tenant_of(context)
        bound_to = page_token.fingerprint(tenant, request)
        offset, as_of = page_token.decode_with_version(request.page_token, bound_to)
        query = build_query(
            tenant=tenant,
            start_date=request.start_date,
            end_date=request.end_date,
            dimensions=tuple(
                _enum(_DIMENSIONS, d, f"dimensions[{i}]") for i, d in enumerate(request.dimensions)
            ),
            granularity=_enum(_GRANULARITIES, request.granularity, "granularity"),
            filters=tuple(
                DimensionFilter(
                    _enum(_DIMENSIONS, f.dimension, f"filters[{i}].dimension"), tuple(f.values), f.exclude
                )
                for i, f in enumerate(request.filters)
            ),
            order_by=request.order_by,
            page_size=request.page_size,
            offset=offset,
            reporting_currency=request.reporting_currency,
        )
        page = self._query_metrics.execute(query, as_of)
        totals = page.totals.to_pylist()[0]
        return pb.QueryMetricsResponse(
            rows=[_row(r) for r in page.rows.to_pylist()],
            totals=pb.MetricsRow(currency=totals.get("currency") or "", metrics=_metrics(totals)),
            next_page_token=page_token.encode(page.next_offset, bound_to, page.version)
            if page.next_offset is not None
            else "",
            total_size=page.total_size,
            source=_SOURCES[page.source],
            cached=page.cached,
        )

    @boundary.unary
    def GetTrends(  # noqa: N802 - the RPC's name
        self, request: pb.GetTrendsRequest, context: grpc.ServicerContext
    ) -> pb.GetTrendsResponse:
        tenant = tenant_of(context)
        bound_to = page_token.fingerprint(tenant, request)
        query = build_trends_query(
            tenant=tenant,
            start_date=request.start_date,
            end_date=request.end_date,
            metrics=tuple(
                convert.enum(convert.METRICS, m, f"metrics[{i}]") for i, m in enumerate(request.metrics)
            ),
            dimensions=_dimensions(request.dimensions),
            granularity=_enum(_GRANULARITIES, request.granularity, "granularity"),
            filters=_filters(request.filters),
            moving_average=request.moving_average,
            page_size=request.page_size,
            offset=page_token.decode(request.page_token, bound_to),
        )
        page = self._analytics.trends.execute(query, self._analytics.today())
        return pb.GetTrendsResponse(
            metrics=list(request.metrics),
            start_date=page.start.isoformat(),
            end_date=page.end.isoformat(),
            series=convert.trends_series(page.points, page.summaries, page.metrics),
            next_page_token=page_token.encode(page.next_offset, bound_to)
            if page.next_offset is not None
            else "",
            total_size=page.total_size,
            reporting_currency=page.reporting_currency,
        )

    @boundary.unary
    def DetectAnomalies(  # noqa: N802 - the RPC's name
        self, request: pb.DetectAnomaliesRequest, context: grpc.ServicerContext
    ) -> pb.DetectAnomaliesResponse:
        query = build_anomaly_query(
            tenant=tenant_of(context),
            start_date=request.start_date,
            end_date=request.end_date,
            metric=convert.enum(convert.METRICS, request.metric, "metric"),
            dimensions=_dimensions(request.dimensions),
            filters=_filters(request.filters),
            method=convert.enum(convert.METHODS, request.method, "method"),
            sensitivity=convert.enum(convert.SENSITIVITIES, request.sensitivity, "sensitivity"),
            window_days=request.window_days,
            min_change=request.min_change.value if request.HasField("min_change") else None,
            include_series=request.include_series,
        )
        report = self._analytics.anomalies.execute(query)
        return pb.DetectAnomaliesResponse(
            metric=request.metric,
            start_date=report.start.isoformat(),
            end_date=report.end.isoformat(),
            anomalies=anomaly_messages.anomalies(report.anomalies),
            incidents=anomaly_messages.incidents(report.incidents, report.metric),
            series=anomaly_messages.series(report.series) if report.series is not None else [],
        )

    @boundary.unary
    def ExplainChange(  # noqa: N802 - the RPC's name
        self, request: pb.ExplainChangeRequest, context: grpc.ServicerContext
    ) -> pb.ExplainChangeResponse:
        query = build_explain_query(
            tenant=tenant_of(context),
            metric=convert.enum(convert.METRICS, request.metric, "metric"),
            baseline_start=request.baseline_start_date,
            baseline_end=request.baseline_end_date,
            current_start=request.current_start_date,
            current_end=request.current_end_date,
            dimensions=_dimensions(request.dimensions),
            filters=_filters(request.filters),
            max_contributors=request.max_contributors,
        )
        return convert.explanation(self._analytics.explain.execute(query))

    @boundary.unary
    def GenerateInsights(  # noqa: N802 - the RPC's name
        self, request: pb.GenerateInsightsRequest, context: grpc.ServicerContext
    ) -> pb.GenerateInsightsResponse:
        tenant = tenant_of(context)
        bound_to = page_token.fingerprint(tenant, request)
        offset, run = page_token.decode_with_run(request.page_token, bound_to)
        chosen = build_insights_request(
            tenant=tenant,
            start_date=request.start_date,
            end_date=request.end_date,
            filters=_filters(request.filters),
            sensitivity=convert.enum(convert.SENSITIVITIES, request.sensitivity, "sensitivity"),
            max_shift=request.max_shift.value if request.HasField("max_shift") else None,
            include_stories=request.include_stories,
            # page_size is AIP-158's name for what max_insights always meant.
            max_insights=request.page_size or request.max_insights,
            offset=offset,
        )
        report = self._analytics.insights.generate(chosen, run)
        return pb.GenerateInsightsResponse(
            insights=[convert.insight(i) for i in report.insights],
            stories=[convert.story(s) for s in report.stories],
            start_date=report.start.isoformat(),
            end_date=report.end.isoformat(),
            next_page_token=page_token.encode(report.next_offset, bound_to, run=report.run)
            if report.next_offset
            else "",
            total_size=report.total_size,
        )

    @boundary.unary
    def ListInsights(  # noqa: N802 - the RPC's name
        self, request: pb.ListInsightsRequest, context: grpc.ServicerContext
    ) -> pb.ListInsightsResponse:
        tenant = tenant_of(context)
        bound_to = page_token.fingerprint(tenant, request)
        query = build_list_query(
            tenant=tenant,
            insight_filter=InsightFilter(
                types=frozenset(
                    convert.enum(convert.INSIGHT_TYPES, t, f"types[{i}]") for i, t in enumerate(request.types)
                ),
                statuses=frozenset(
                    convert.enum(convert.INSIGHT_STATUSES, s, f"statuses[{i}]")
                    for i, s in enumerate(request.statuses)
                ),
                min_severity=convert.enum(convert.SEVERITIES, request.min_severity, "min_severity")
                if request.min_severity
                else None,
                campaign_id=request.campaign_id,
            ),
            start_date=request.start_date,
            end_date=request.end_date,
            page_size=request.page_size,
            offset=page_token.decode(request.page_token, bound_to),
        )
        found, total = self._analytics.insights.page(query)
        end = query.offset + len(found)
        return pb.ListInsightsResponse(
            insights=[convert.insight(i) for i in found],
            next_page_token=page_token.encode(end, bound_to) if end < total else "",
            total_size=total,
        )

    @boundary.unary
    def UpdateInsight(  # noqa: N802 - the RPC's name
        self, request: pb.UpdateInsightRequest, context: grpc.ServicerContext
    ) -> pb.Insight:
        status = request.insight.status
        change = build_update(
            tenant=tenant_of(context),
            name=request.insight.name,
            paths=tuple(request.update_mask.paths),
            status=convert.enum(convert.INSIGHT_STATUSES, status, "insight.status") if status else None,
            feedback=request.insight.feedback,
        )
        return convert.insight(self._analytics.insights.update(change))

    @boundary.unary
    def SetBudget(  # noqa: N802 - the RPC's name
        self, request: pb.SetBudgetRequest, context: grpc.ServicerContext
    ) -> pb.Budget:
        b = request.budget
        budget = build_budget(
            platform=b.platform,
            account_id=b.account_id,
            campaign_id=b.campaign_id,
            month=b.month,
            amount_micros=b.amount_micros,
            currency=b.currency,
        )
        return convert.budget(self._analytics.insights.set_budget(tenant_of(context), budget))

    @boundary.unary
    def ListBudgets(  # noqa: N802 - the RPC's name
        self, request: pb.ListBudgetsRequest, context: grpc.ServicerContext
    ) -> pb.ListBudgetsResponse:
        tenant = tenant_of(context)
        bound_to = page_token.fingerprint(tenant, request)
        month = parse_month(request.month, "month") if request.month else None
        offset = page_token.decode(request.page_token, bound_to)
        found, total = self._analytics.insights.budgets(
            tenant, month, offset, clamp_page_size(request.page_size)
        )
        end = offset + len(found)
        return pb.ListBudgetsResponse(
            budgets=[convert.budget(b) for b in found],
            next_page_token=page_token.encode(end, bound_to) if end < total else "",
            total_size=total,
        )

    @boundary.unary
    def SearchDimensionValues(  # noqa: N802 - the RPC's name
        self, request: pb.SearchDimensionValuesRequest, context: grpc.ServicerContext
    ) -> pb.SearchDimensionValuesResponse:
        tenant = tenant_of(context)
        bound_to = page_token.fingerprint(tenant, request)
        found = self._analytics.search.search(
            tenant=tenant,
            text=request.query,
            match=_enum(convert.MATCHES, request.match, "match"),
            kinds=[_enum(convert.KINDS, k, f"kinds[{i}]") for i, k in enumerate(request.kinds)],
            platforms=list(request.platforms),
            page_size=request.page_size,
            offset=page_token.decode(request.page_token, bound_to),
        )
        first, last = (d.isoformat() for d in found.page.recent) if found.page.recent else ("", "")
        return pb.SearchDimensionValuesResponse(
            values=[convert.dimension_value(v) for v in found.page.values],
            next_page_token=page_token.encode(found.next_offset, bound_to) if found.next_offset else "",
            total_size=found.page.total_size,
            recent_start_date=first,
            recent_end_date=last,
        )


def _dimensions(values: Any) -> tuple[Dimension, ...]:
    return tuple(_enum(_DIMENSIONS, d, f"dimensions[{i}]") for i, d in enumerate(values))


def _filters(values: Any) -> tuple[DimensionFilter, ...]:
    return tuple(
        DimensionFilter(
            _enum(_DIMENSIONS, f.dimension, f"filters[{i}].dimension"), tuple(f.values), f.exclude
        )
        for i, f in enumerate(values)
    )


def _enum(mapping: Mapping[Any, T], value: int, field: str) -> T:
    if value not in mapping:
        raise InvalidArgument(
            f"{field} has no valid value", "INVALID_ENUM", violations=[FieldViolation(field, "unknown value")]
        )
    return mapping[value]


def _row(group: dict[str, Any]) -> pb.MetricsRow:
    row = pb.MetricsRow(metrics=_metrics(group), currency=group.get("currency") or "")
    if "date" in group:
        row.date = group["date"].isoformat()
    for field in _ROW_FIELDS:
        if field in group:
            setattr(row, field, group[field])
    return row


def _metrics(group: dict[str, Any]) -> pb.Metrics:
    metrics = pb.Metrics(
        impressions=group["impressions"],
        clicks=group["clicks"],
        conversions=group["conversions_micros"] / 1e6,
    )
    for field in ("cost_micros", "revenue_micros", *_KPIS):
        if group[field] is not None:
            getattr(metrics, field).value = group[field]
    return metrics
