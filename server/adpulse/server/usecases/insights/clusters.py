"""Which detected incidents are one insight, and which metric leads it."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

from adpulse.server.domain.analytics import Metric
from adpulse.server.usecases.insights.campaigns import campaign_key

# Detected per campaign, in the order that decides which metric leads an incident of several:
# causes before their consequences (a CPC surge raises spend and CPA; a CTR collapse lowers
# spend and conversions; a spend spike raises conversions and revenue).
DETECT_METRICS = (
    Metric.CPC,
    Metric.CTR,
    Metric.COST,
    Metric.CONVERSIONS,
    Metric.REVENUE,
    Metric.CVR,
    Metric.CPA,
    Metric.ROAS,
)


def cluster_incidents(incidents: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """Incidents of one campaign whose days overlap or touch are one insight, led by the cause
    (by metric order); clusters come surest and most severe first (confidence x severity)."""
    order = {m: i for i, m in enumerate(DETECT_METRICS)}
    incidents = sorted(incidents, key=lambda i: (campaign_key(i), i["start"]))
    clusters: list[list[dict[str, Any]]] = []
    for inc in incidents:
        last = clusters[-1] if clusters else None
        if (
            last
            and campaign_key(last[0]) == campaign_key(inc)
            and inc["start"] <= max(i["end"] for i in last) + dt.timedelta(days=1)
        ):
            last.append(inc)
        else:
            clusters.append([inc])
    for cluster in clusters:
        cluster.sort(key=lambda i: order[i["metric"]])

    def rank(cluster: list[dict[str, Any]]) -> tuple[float, float]:
        sure = max(i["confidence"] for i in cluster)
        return -sure * max(i["severity"] or 0 for i in cluster), -max(
            abs(i["peak_score"] or 0) for i in cluster
        )

    return sorted(clusters, key=rank)


def incident_span(cluster: Sequence[Mapping[str, Any]]) -> tuple[dt.date, dt.date]:
    """The days an incident's metrics were anomalous, from the first to the last."""
    return min(i["start"] for i in cluster), max(i["end"] for i in cluster)
