"""Which ad groups and ads an anomaly incident comes from."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from adpulse.server.domain.analytics import ExplainQuery, Metric, default_baseline
from adpulse.server.domain.errors import FailedPrecondition
from adpulse.server.domain.metrics_query import Dimension, DimensionFilter, FactSelection
from adpulse.server.ports import FactStore
from adpulse.server.usecases.analytics import ChangeExplanation, ExplainChangeUseCase, daily_sums
from adpulse.server.usecases.insights.campaigns import AD_KEYS, CAMPAIGN_KEYS
from adpulse.server.usecases.insights.clusters import incident_span
from adpulse.server.usecases.insights.context import Context


def ad_sums(facts: FactStore, ctx: Context, clusters: list[list[dict[str, Any]]]) -> pa.Table:
    """Daily sums per ad of the incidents' campaigns over all their periods and baselines, in
    one query: one query per incident made a large tenant's insights slow."""
    leads = [cluster[0] for cluster in clusters]
    if not leads:
        return pa.table({})
    first = min(default_baseline(incident_span(cluster))[0] for cluster in clusters)
    last = max(incident_span(cluster)[1] for cluster in clusters)
    only = tuple(
        DimensionFilter(dim, tuple(sorted({lead[col] for lead in leads})))
        for dim, col in zip(
            (Dimension.PLATFORM, Dimension.ACCOUNT, Dimension.CAMPAIGN), CAMPAIGN_KEYS, strict=True
        )
    )
    selection = FactSelection(ctx.request.tenant, first, last, ctx.request.filters + only)
    return daily_sums(facts, selection, AD_KEYS)


def explain_incident(
    ctx: Context,
    lead: Mapping[str, Any],
    current: tuple[dt.date, dt.date],
    metric: Metric,
    ads: pa.Table,
    *,
    explain: ExplainChangeUseCase,
) -> ChangeExplanation | None:
    only = (
        DimensionFilter(Dimension.PLATFORM, (lead["platform"],)),
        DimensionFilter(Dimension.ACCOUNT, (lead["account_id"],)),
        DimensionFilter(Dimension.CAMPAIGN, (lead["campaign_id"],)),
    )
    query = ExplainQuery(
        tenant=ctx.request.tenant,
        metric=metric,
        baseline=default_baseline(current),
        current=current,
        dimensions=(Dimension.AD_GROUP, Dimension.AD),
        filters=ctx.request.filters + only,
        max_contributors=5,
    )
    mask = pc.and_(
        pc.and_(pc.equal(ads["platform"], lead["platform"]), pc.equal(ads["account_id"], lead["account_id"])),
        pc.equal(ads["campaign_id"], lead["campaign_id"]),
    )
    in_period = [
        pc.and_(
            pc.greater_equal(ads["date"], pa.scalar(p[0], pa.date32())),
            pc.less_equal(ads["date"], pa.scalar(p[1], pa.date32())),
        )
        for p in (query.baseline, query.current)
    ]
    rows = ads.filter(pc.and_(mask, pc.or_(*in_period)))
    label = pc.cast(pc.greater_equal(rows["date"], pa.scalar(current[0], pa.date32())), pa.int8())
    try:
        return explain.explain_table(query, rows.append_column("period", label))
    except FailedPrecondition:
        return None


def top_contributor(explanation: ChangeExplanation | None) -> str | None:
    if explanation is None or not explanation.explanation.dimensions:
        return None
    best = explanation.explanation.dimensions[0]
    rows = best.contributors.to_pylist()
    if not rows or rows[0]["share"] is None or rows[0]["share"] < 0.5:
        return None
    row = rows[0]
    label = {"ad_group": "ad group", "ad": "ad"}.get(best.name, best.name)
    return f"{label} {row.get('ad_id') or row.get('ad_group_id')} ({row['share']:.0%} of the change)"
