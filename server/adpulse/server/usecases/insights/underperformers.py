"""Campaigns clearly worse than their account on CPA or ROAS, and big enough to matter."""

from __future__ import annotations

from adpulse.server.domain import evidence
from adpulse.server.domain.analytics import Metric
from adpulse.server.domain.insights import Insight, InsightType, Severity, insight_id
from adpulse.server.ports import Kernel
from adpulse.server.usecases.insights.campaigns import (
    ACCOUNT_KEYS,
    CAMPAIGN_KEYS,
    campaign_key,
    campaign_name,
    campaign_subject,
)
from adpulse.server.usecases.insights.context import Context
from adpulse.server.usecases.insights.wording import METRIC_WORDS, metric_value, money, span

# Underperformers: clearly worse (CPA 30 % above, ROAS 25 % below the account's), significant
# for the campaign's volume, and big enough to matter (5 % of the account's spend).
UNDERPERFORMANCE = {Metric.CPA: 1.3, Metric.ROAS: 0.75}
MIN_SHARE_OF_ACCOUNT = 0.05


def underperformers(ctx: Context, kernel: Kernel) -> list[Insight]:
    out = []
    for metric, factor in UNDERPERFORMANCE.items():
        judged = kernel.compare_to_parent(
            ctx.period, CAMPAIGN_KEYS, ACCOUNT_KEYS, metric.value, carry=["campaign_name"]
        )
        z = ctx.request.sensitivity.threshold
        for row in judged.to_pylist():
            value, parent, score = row["value"], row["parent_value"], row["score"]
            if value is None or parent is None or score is None or not row["excess_micros"]:
                continue
            worse = value >= factor * parent if metric is Metric.CPA else value <= factor * parent
            significant = score >= z if metric is Metric.CPA else score <= -z
            big = (row["share_of_parent_cost"] or 0) >= MIN_SHARE_OF_ACCOUNT
            if not (worse and significant and big and row["excess_micros"] > 0):
                continue
            currency = row["currency"] or ""
            ratio = value / parent if metric is Metric.CPA else parent / value if value else 2.0
            severity = Severity.HIGH if ratio >= 2 else Severity.MEDIUM if ratio >= 1.5 else Severity.LOW
            name = campaign_name(row)
            excess = row["excess_micros"]
            what = (
                "cost beyond the account's CPA"
                if metric is Metric.CPA
                else "revenue short of the account's ROAS"
            )
            out.append(
                Insight(
                    id=insight_id(
                        "underperformer", *campaign_key(row), metric.value, ctx.end.strftime("%Y-%m")
                    ),
                    type=InsightType.UNDERPERFORMER,
                    severity=severity,
                    title=f"{name}: {METRIC_WORDS[metric]} {metric_value(metric, value, currency)} "
                    f"vs the account's {metric_value(metric, parent, currency)}",
                    body=f"Over {span(ctx.start, ctx.end)} {name} ({row['platform']}) had a "
                    f"{METRIC_WORDS[metric]} of {metric_value(metric, value, currency)} "
                    f"while its account averaged {metric_value(metric, parent, currency)}, "
                    f"on {money(row['cost_micros'], currency)} of "
                    f"spend: {money(excess, currency)} of {what}.",
                    impact_micros=excess,
                    currency=currency,
                    period_start=ctx.start,
                    period_end=ctx.end,
                    subject=campaign_subject(row),
                    evidence={"metrics": [evidence.metric_name(metric)]},
                    recommended_action=f"Review {name}'s targeting, bids and landing pages, or move part "
                    "of its budget to the account's better campaigns.",
                    priority=ctx.priority(severity, excess, currency),
                )
            )
    return out
