"""Anomaly incidents as insights: what moved, how much it is worth, where it comes from and
what to do about it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from adpulse.server.domain import evidence
from adpulse.server.domain.analytics import Metric
from adpulse.server.domain.insights import MAX_INSIGHTS, Insight, InsightType, Severity, insight_id
from adpulse.server.ports import FactStore
from adpulse.server.usecases.analytics import AnomaliesUseCase, ChangeExplanation, ExplainChangeUseCase
from adpulse.server.usecases.insights.actions import action_for
from adpulse.server.usecases.insights.campaigns import (
    CAMPAIGN_KEYS,
    campaign_key,
    campaign_name,
    campaign_subject,
)
from adpulse.server.usecases.insights.clusters import DETECT_METRICS, cluster_incidents, incident_span
from adpulse.server.usecases.insights.context import WINDOW_DAYS, Context
from adpulse.server.usecases.insights.explanations import ad_sums, explain_incident, top_contributor
from adpulse.server.usecases.insights.impact import incident_impact
from adpulse.server.usecases.insights.wording import METRIC_WORDS, metric_value, span, upper_first


@dataclass(frozen=True)
class Story:
    """An anomaly incident with its explanation and the recommended action."""

    incident: Mapping[str, Any]
    related: list[Mapping[str, Any]]
    explanation: ChangeExplanation | None
    recommended_action: str
    insight: str


def anomaly_insights(
    ctx: Context,
    platforms: Sequence[str],
    *,
    facts: FactStore,
    anomalies: AnomaliesUseCase,
    explain: ExplainChangeUseCase,
) -> list[tuple[Insight, Story]]:
    sensitivity = ctx.request.sensitivity
    incidents: list[dict[str, Any]] = []
    points: dict[Metric, pa.Table] = {}
    for metric in DETECT_METRICS:
        series, found = anomalies.detect(
            ctx.sums,
            CAMPAIGN_KEYS,
            metric,
            ctx.start,
            ctx.end,
            platforms=platforms,
            threshold=sensitivity.threshold,
            change_threshold=sensitivity.change_threshold,
            cold_start_factor=sensitivity.cold_start_factor,
            window=WINDOW_DAYS,
            all_points=True,
        )
        points[metric] = series
        incidents += [{**row, "metric": metric} for row in found.to_pylist()]
    # Each incident costs an explanation: enough for the largest page, whatever the others. Not
    # fewer for a smaller page: every page of a run is cut from its first one's insights.
    clusters = cluster_incidents(incidents)[: MAX_INSIGHTS * 2]
    ads = ad_sums(facts, ctx, clusters)
    return [_anomaly_insight(explain, ctx, cluster, points, ads) for cluster in clusters]


def _anomaly_insight(
    explain: ExplainChangeUseCase,
    ctx: Context,
    cluster: list[dict[str, Any]],
    points: Mapping[Metric, pa.Table],
    ads: pa.Table,
) -> tuple[Insight, Story]:
    lead = cluster[0]
    metric: Metric = lead["metric"]
    first, last = incident_span(cluster)
    currency = lead.get("currency") or ""
    name = campaign_name(lead)
    explanation = explain_incident(ctx, lead, (first, last), metric, ads, explain=explain)
    observed, expected = lead["observed"], lead["expected"]
    relative = (observed - expected) / abs(expected) if observed is not None and expected else None
    way = "up" if lead["direction"] == "up" else "down"
    change = f" {abs(relative):.0%}" if relative is not None else ""
    title = f"{name}: {METRIC_WORDS[metric]} {way}{change} on {span(first, last)}"
    body = (
        f"{upper_first(METRIC_WORDS[metric])} of {name} ({lead['platform']}): "
        f"{metric_value(metric, observed, currency)} against "
        f"{metric_value(metric, expected, currency)} expected "
        f"over {lead['days']} day(s)."
    )
    others = cluster[1:]
    if others:
        body += " Also: " + ", ".join(_moved(i) for i in others) + "."
    top = top_contributor(explanation)
    if top is not None:
        body += f" Most of it comes from {top}."
    if lead["provisional"]:
        body += " Some of these days may still be restated by the platform."
    action = action_for(metric, lead["direction"], cluster).format(c=name)
    impact = incident_impact(lead, metric, ctx.campaign_totals.get(campaign_key(lead)))
    series = points[metric]
    mask = pc.and_(
        pc.and_(
            pc.equal(series["campaign_id"], lead["campaign_id"]),
            pc.equal(series["platform"], lead["platform"]),
        ),
        pc.equal(series["account_id"], lead["account_id"]),
    )
    doc: dict[str, Any] = {
        "metrics": [evidence.metric_name(i["metric"]) for i in cluster],
        "series": [evidence.point_json(r) for r in series.filter(mask).to_pylist()],
        "incidents": [evidence.incident_json(i, i["metric"]) for i in cluster],
    }
    if explanation is not None and explanation.explanation.dimensions:
        doc["contributors"] = [
            evidence.contributor_json(r)
            for r in explanation.explanation.dimensions[0].contributors.to_pylist()
        ]
    severity = Severity(max(i["severity"] for i in cluster))
    insight = Insight(
        id=insight_id("anomaly", *campaign_key(lead), first.isoformat()),
        type=InsightType.ANOMALY,
        severity=severity,
        title=title,
        body=body,
        impact_micros=impact,
        currency=currency,
        period_start=first,
        period_end=last,
        subject=campaign_subject(lead),
        evidence=doc,
        recommended_action=action,
        priority=ctx.priority(severity, impact, currency, max(i["confidence"] for i in cluster)),
    )
    story = Story(
        incident=evidence.incident_json(lead, metric),
        related=[evidence.incident_json(i, i["metric"]) for i in others],
        explanation=explanation,
        recommended_action=action,
        insight=f"insights/{insight.id}",
    )
    return insight, story


def _moved(incident: Mapping[str, Any]) -> str:
    """E.g. "CPA up +40%": another metric of the same incident."""
    text = f"{METRIC_WORDS[incident['metric']]} {incident['direction']}"
    if incident["expected"] and incident["observed"] is not None:
        text += f" {abs(incident['observed'] - incident['expected']) / abs(incident['expected']):.0%}"
    return text
