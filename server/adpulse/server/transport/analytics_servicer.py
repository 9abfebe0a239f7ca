"""adpulse.v1.AnalyticsService over the query use case."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

import grpc

from adpulse.server.domain.errors import FieldViolation, InvalidArgument
from adpulse.server.domain.metrics_query import Dimension, DimensionFilter, Granularity, build_query
from adpulse.server.transport import boundary, page_token
from adpulse.server.transport.tenancy import tenant_of
from adpulse.server.usecases.query_metrics import QueryMetricsUseCase
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
T = TypeVar("T")
_ROW_FIELDS = ("platform", "account_id", "campaign_id", "campaign_name", "ad_group_id", "ad_id")
_KPIS = ("ctr", "cpc", "cpm", "cvr", "cpa", "roas", "roi")


class AnalyticsServicer(pb_grpc.AnalyticsServiceServicer):
    def __init__(self, query_metrics: QueryMetricsUseCase) -> None:
        self._query_metrics = query_metrics

    @boundary.unary
    def QueryMetrics(  # noqa: N802 - the RPC's name
        self, request: pb.QueryMetricsRequest, context: grpc.ServicerContext
    ) -> pb.QueryMetricsResponse:
        tenant = tenant_of(context)
        bound_to = page_token.fingerprint(tenant, request)
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
            offset=page_token.decode(request.page_token, bound_to),
            reporting_currency=request.reporting_currency,
        )
        page = self._query_metrics.execute(query)
        totals = page.totals.to_pylist()[0]
        return pb.QueryMetricsResponse(
            rows=[_row(r) for r in page.rows.to_pylist()],
            totals=pb.MetricsRow(currency=totals.get("currency") or "", metrics=_metrics(totals)),
            next_page_token=page_token.encode(page.next_offset, bound_to)
            if page.next_offset is not None
            else "",
            total_size=page.total_size,
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
