"""Protobuf ↔ domain for the analytics RPCs: enums, kernel result rows, insights and budgets."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

import pyarrow as pa
from google.protobuf import json_format, timestamp_pb2
from google.protobuf.message import Message

from adpulse.server.domain import evidence
from adpulse.server.domain.analytics import AnomalyMethod, Metric, Sensitivity
from adpulse.server.domain.errors import FieldViolation, InvalidArgument
from adpulse.server.domain.insights import Budget, Insight, InsightStatus, InsightType, Severity
from adpulse.server.domain.metrics_query import Dimension
from adpulse.server.domain.search import DimensionValue, Kind, Match
from adpulse.server.usecases.analytics import ChangeExplanation
from adpulse.server.usecases.insights import Story
from adpulse.v1 import analytics_service_pb2 as pb

T = TypeVar("T")
M = TypeVar("M", bound=Message)
METRICS = {getattr(pb, f"METRIC_{m.name}"): m for m in Metric}
METHODS = {getattr(pb, f"ANOMALY_METHOD_{m.name}"): m for m in AnomalyMethod}
METHODS[pb.ANOMALY_METHOD_UNSPECIFIED] = AnomalyMethod.AUTO
SENSITIVITIES = {getattr(pb, f"SENSITIVITY_{s.name}"): s for s in Sensitivity}
SENSITIVITIES[pb.SENSITIVITY_UNSPECIFIED] = Sensitivity.MEDIUM
INSIGHT_TYPES = {getattr(pb, f"INSIGHT_TYPE_{t.name}"): t for t in InsightType}
INSIGHT_STATUSES = {getattr(pb, f"INSIGHT_STATUS_{s.name}"): s for s in InsightStatus}
SEVERITIES = {getattr(pb, f"SEVERITY_{s.name}"): s for s in Severity}
DIMENSION_ENUMS = {dim: getattr(pb, f"DIMENSION_{dim.name}") for dim in Dimension}
KINDS = {getattr(pb, f"DIMENSION_{kind.name}"): kind for kind in Kind}
_KIND_ENUMS = {kind: value for value, kind in KINDS.items()}
MATCHES = {getattr(pb, f"SEARCH_MATCH_{m.name}"): m for m in Match}
MATCHES[pb.SEARCH_MATCH_UNSPECIFIED] = Match.PREFIX


def enum(mapping: Mapping[int, T], value: int, field: str) -> T:
    if value not in mapping:
        raise InvalidArgument(
            f"{field} has no valid value", "INVALID_ENUM", violations=[FieldViolation(field, "unknown value")]
        )
    return mapping[value]


def parse(document: Mapping[str, Any], message: M) -> M:
    return json_format.ParseDict(dict(document), message)


def group(row: Mapping[str, Any]) -> pb.GroupKey:
    return parse(evidence.group_json(row), pb.GroupKey())


def _wrap(target: Any, name: str, value: Any) -> None:
    if value is not None:
        getattr(target, name).value = value


def trends_series(points: pa.Table, summaries: pa.Table, metrics: tuple[Metric, ...]) -> list[pb.TrendSeries]:
    by_series: dict[int, pb.TrendSeries] = {}
    for row in summaries.to_pylist():
        series = pb.TrendSeries(group=group(row), currency=row["money_currency"] or "")
        for m in metrics:
            name = m.value
            summary = series.summaries.add()
            _wrap(summary, "total", row[name])
            _wrap(summary, "total_micros", row.get(f"{name}_micros"))
            _wrap(summary, "previous_period", row[f"{name}_previous"])
            _wrap(summary, "change_vs_previous_period", row[f"{name}_vs_previous"])
            _wrap(summary, "year_ago", row[f"{name}_year_ago"])
            _wrap(summary, "change_vs_year_ago", row[f"{name}_vs_year_ago"])
        by_series[row["series"]] = series
    for row in points.to_pylist():
        point = by_series[row["series"]].points.add(
            date=row["date"].isoformat(), partial=row["partial"], currency=row["money_currency"] or ""
        )
        for m in metrics:
            name = m.value
            value = point.values.add()
            _wrap(value, "value", row[name])
            _wrap(value, "value_micros", row.get(f"{name}_micros"))
            _wrap(value, "moving_average", row[f"{name}_moving_average"])
            _wrap(value, "previous", row[f"{name}_previous"])
            _wrap(value, "change_vs_previous", row[f"{name}_vs_previous"])
            _wrap(value, "year_ago", row[f"{name}_year_ago"])
            _wrap(value, "change_vs_year_ago", row[f"{name}_vs_year_ago"])
    return list(by_series.values())


def explanation(found: ChangeExplanation) -> pb.ExplainChangeResponse:
    query, result = found.query, found.explanation
    response = pb.ExplainChangeResponse(
        metric=getattr(pb, f"METRIC_{query.metric.name}"),
        baseline_start_date=query.baseline[0].isoformat(),
        baseline_end_date=query.baseline[1].isoformat(),
        current_start_date=query.current[0].isoformat(),
        current_end_date=query.current[1].isoformat(),
    )
    _wrap(response, "baseline", result.baseline)
    _wrap(response, "current", result.current)
    _wrap(response, "change", result.change)
    _wrap(response, "change_micros", result.change_micros)
    if result.change is not None and result.baseline:
        response.relative_change.value = result.change / abs(result.baseline)
    for dim in result.dimensions:
        out = response.dimensions.add(
            dimension=DIMENSION_ENUMS[Dimension(dim.name)], surprise=dim.surprise, slices=dim.slices
        )
        _wrap(out, "explanatory_power", dim.explanatory_power)
        out.contributors.extend(
            parse(evidence.contributor_json(r), pb.Contributor()) for r in dim.contributors.to_pylist()
        )
    return response


def _timestamp(value: Any) -> timestamp_pb2.Timestamp:
    stamp = timestamp_pb2.Timestamp()
    stamp.FromDatetime(value)
    return stamp


def insight(found: Insight) -> pb.Insight:
    message = pb.Insight(
        name=f"insights/{found.id}",
        type=getattr(pb, f"INSIGHT_TYPE_{found.type.name}"),
        severity=getattr(pb, f"SEVERITY_{found.severity.name}"),
        title=found.title,
        body=found.body,
        currency=found.currency,
        period_start_date=found.period_start.isoformat(),
        period_end_date=found.period_end.isoformat(),
        group=parse(dict(found.subject), pb.GroupKey()),
        evidence=parse(dict(found.evidence), pb.InsightEvidence()),
        recommended_action=found.recommended_action,
        priority=found.priority,
        status=getattr(pb, f"INSIGHT_STATUS_{found.status.name}"),
        feedback=found.feedback,
    )
    _wrap(message, "impact_micros", found.impact_micros)
    if found.created_at:
        message.create_time.CopyFrom(_timestamp(found.created_at))
    if found.updated_at:
        message.update_time.CopyFrom(_timestamp(found.updated_at))
    return message


def story(found: Story) -> pb.Story:
    message = pb.Story(
        incident=parse(dict(found.incident), pb.AnomalyIncident()),
        related=[parse(dict(r), pb.AnomalyIncident()) for r in found.related],
        recommended_action=found.recommended_action,
        insight=found.insight,
    )
    if found.explanation is not None:
        message.explanation.CopyFrom(explanation(found.explanation))
    return message


def budget(found: Budget) -> pb.Budget:
    message = pb.Budget(
        platform=found.platform,
        account_id=found.account_id,
        campaign_id=found.campaign_id,
        month=found.month.strftime("%Y-%m"),
        amount_micros=found.amount_micros,
        currency=found.currency,
    )
    if found.updated_at:
        message.update_time.CopyFrom(_timestamp(found.updated_at))
    return message


def dimension_value(value: DimensionValue) -> pb.DimensionValue:
    return pb.DimensionValue(
        kind=_KIND_ENUMS[value.kind],
        id=value.id,
        name=value.name,
        platform=value.platform,
        account_id=value.account_id,
        campaign_id=value.campaign_id,
        ad_group_id=value.ad_group_id,
        currency=value.currency,
        recent_cost_micros=value.recent_cost_micros,
        last_date=value.last_date.isoformat(),
    )
