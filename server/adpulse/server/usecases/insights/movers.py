"""The campaigns that moved revenue (or conversions) most against the previous period."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pyarrow.compute as pc

from adpulse.server.domain import evidence
from adpulse.server.domain.analytics import Metric
from adpulse.server.domain.insights import Insight, InsightType, Severity, insight_id
from adpulse.server.ports import Kernel
from adpulse.server.usecases.insights.campaigns import CAMPAIGN_KEYS, campaign_name
from adpulse.server.usecases.insights.context import Context
from adpulse.server.usecases.insights.wording import METRIC_WORDS, money, percent, span, upper_first


def top_movers(ctx: Context, kernel: Kernel) -> list[Insight]:
    days = (ctx.end - ctx.start).days + 1
    baseline = (ctx.start - dt.timedelta(days=days), ctx.start - dt.timedelta(days=1))
    if baseline[0] < ctx.history_start:
        return []
    in_base = pc.and_(
        pc.greater_equal(ctx.sums["date"], pa.scalar(baseline[0], pa.date32())),
        pc.less_equal(ctx.sums["date"], pa.scalar(baseline[1], pa.date32())),
    )
    base = ctx.sums.filter(in_base)
    table = pa.concat_tables(
        [
            base.append_column("period", pa.array([0] * base.num_rows, pa.int8())),
            ctx.period.append_column("period", pa.array([1] * ctx.period.num_rows, pa.int8())),
        ]
    )
    out = []
    for currency in ctx.currencies:
        rows = table.filter(pc.equal(table["currency"], currency))
        has_revenue = pc.sum(rows["revenue_micros"]).as_py() or 0
        metric = Metric.REVENUE if has_revenue else Metric.CONVERSIONS
        found = kernel.explain_change(
            rows, [("campaign", list(CAMPAIGN_KEYS), ["campaign_name"])], metric.value, limit=10
        )
        if not found.change or found.baseline is None or not found.dimensions:
            continue
        # The kernel leads with the slices that explain the change; movers are the largest.
        contributors = found.dimensions[0].contributors.to_pylist()
        movers = sorted(
            (r for r in contributors if r["contribution"]), key=lambda r: -abs(r["contribution"])
        )[:3]
        if not movers:
            continue
        relative = found.change / abs(found.baseline) if found.baseline else None
        total = _amount(found.change_micros, found.change, currency)
        listing = ", ".join(
            f"{campaign_name(r)} {_amount(r['contribution_micros'], r['contribution'], currency)}"
            for r in movers
        )
        change = percent(relative) if relative is not None else "changed"
        impact = abs(found.change_micros) if found.change_micros is not None else None
        severity = Severity.MEDIUM if relative is not None and abs(relative) >= 0.25 else Severity.LOW
        out.append(
            Insight(
                id=insight_id("top_movers", currency, metric.value, ctx.start, ctx.end),
                type=InsightType.TOP_MOVERS,
                severity=severity,
                title=f"{upper_first(METRIC_WORDS[metric])} {change} "
                f"vs the previous {days} days ({currency})",
                body=f"{upper_first(METRIC_WORDS[metric])} changed by {total} against {span(*baseline)}. "
                f"Largest movers: {listing}.",
                impact_micros=impact,
                currency=currency,
                period_start=ctx.start,
                period_end=ctx.end,
                subject={"currency": currency},
                evidence={
                    "metrics": [evidence.metric_name(metric)],
                    "contributors": [evidence.contributor_json(r) for r in movers],
                },
                recommended_action="Look into the largest movers first: they explain most of the change.",
                priority=ctx.priority(severity, impact, currency),
            )
        )
    return out


def _amount(micros: int | None, value: float, currency: str) -> str:
    return money(micros, currency) if micros is not None else f"{value:+,.1f}"
