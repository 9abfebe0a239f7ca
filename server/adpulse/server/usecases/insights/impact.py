"""What an anomaly incident costs or earns, priced at its campaign's own rates."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from adpulse.server.domain.analytics import Metric


def incident_impact(
    incident: Mapping[str, Any], metric: Metric, totals: Mapping[str, Any] | None
) -> int | None:
    """Money at stake over the incident, in micros: the deviation priced at the campaign's own
    rates over the period (a lost conversion at its revenue per conversion, or its CPA)."""
    observed, expected = incident["observed"], incident["expected"]
    if observed is None or expected is None:
        return None
    cost, clicks = incident["cost_micros"], incident["clicks"]
    conversions, impressions = incident["conversions_micros"] / 1e6, incident["impressions"]
    value_per_conversion = None
    if totals and totals["conversions_micros"]:
        earned = totals["revenue_micros"] or totals["cost_micros"] or 0
        value_per_conversion = earned / (totals["conversions_micros"] / 1e6)
    cpc = (
        totals["cost_micros"] / totals["clicks"]
        if totals and totals["clicks"] and totals["cost_micros"]
        else None
    )
    deviation = observed - expected
    match metric:
        case Metric.COST | Metric.REVENUE:
            value: float | None = deviation * 1e6
        case Metric.CONVERSIONS:
            value = deviation * value_per_conversion if value_per_conversion else None
        case Metric.CVR:
            value = deviation * clicks * value_per_conversion if value_per_conversion else None
        case Metric.CPA:
            value = deviation * conversions * 1e6
        case Metric.ROAS:
            value = deviation * cost
        case Metric.CPC:
            value = deviation * clicks * 1e6
        case Metric.CTR:
            value = deviation * impressions * cpc if cpc else None
        case _:
            value = None
    return None if value is None else round(abs(value))
