"""Campaigns on course to over- or underspend their monthly budget."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from adpulse.server.domain import evidence
from adpulse.server.domain.insights import Insight, InsightType, Severity, insight_id, month_end
from adpulse.server.ports import InsightStore, Kernel
from adpulse.server.usecases.insights.campaigns import CAMPAIGN_KEYS, campaign_key, campaign_name
from adpulse.server.usecases.insights.context import Context
from adpulse.server.usecases.insights.wording import money


def pacing(ctx: Context, kernel: Kernel, store: InsightStore) -> list[Insight]:
    month = ctx.end.replace(day=1)
    budgets, _ = store.budgets(ctx.request.tenant, month)
    if not budgets:
        return []
    in_month = ctx.sums.filter(pc.greater_equal(ctx.sums["date"], pa.scalar(month, pa.date32())))
    table = pa.table(
        {
            "platform": [b.platform for b in budgets],
            "account_id": [b.account_id for b in budgets],
            "campaign_id": [b.campaign_id for b in budgets],
            "budget_micros": pa.array([b.amount_micros for b in budgets], pa.int64()),
        }
    )
    paced = kernel.budget_pacing(in_month, CAMPAIGN_KEYS, table, month, month_end(month), ctx.end)
    names = {
        campaign_key(r): campaign_name(r)
        for r in in_month.select([*CAMPAIGN_KEYS, "campaign_name"]).to_pylist()
    }
    out = []
    for budget, row in zip(budgets, paced.to_pylist(), strict=True):
        status = row["status"]
        if status == "on_track":
            continue
        currency = budget.currency
        amount, projected = budget.amount_micros, row["projected_micros"]
        ratio = projected / amount if amount else float("inf")
        severity = {
            "over": Severity.HIGH,
            "at_risk": Severity.HIGH if ratio >= 1.25 else Severity.MEDIUM,
            "under": Severity.MEDIUM if ratio < 0.7 else Severity.LOW,
        }[status]
        name = names.get(campaign_key(row), budget.campaign_id)
        impact = abs(projected - amount)
        words = {
            "over": "has already spent more than its budget",
            "at_risk": "is on course to overspend",
            "under": "is on course to underspend",
        }[status]
        days_left = max(row["days_in_month"] - row["days_elapsed"], 1)
        affordable = max(amount - row["spent_micros"], 0) / days_left
        action = (
            f"Lower {name}'s daily budget to about {money(affordable, currency)}"
            if status != "under"
            else f"Raise {name}'s daily budget or bids to use its budget"
        )
        out.append(
            Insight(
                id=insight_id("pacing", *campaign_key(row), month.isoformat()),
                type=InsightType.PACING,
                severity=severity,
                title=f"{name} {words} for {month:%B %Y}",
                body=f"{name} spent {money(row['spent_micros'], currency)} of its "
                f"{money(amount, currency)} budget in {row['days_elapsed']} of {row['days_in_month']} "
                "days; "
                f"at {money(row['run_rate_per_day_micros'], currency)}/day it will reach "
                f"{money(projected, currency)} ({ratio:.0%} of budget).",
                impact_micros=impact,
                currency=currency,
                period_start=month,
                period_end=ctx.end,
                subject={
                    **{k: row[k] for k in CAMPAIGN_KEYS},
                    "campaign_name": name,
                    "currency": currency,
                },
                evidence={"pacing": evidence.pacing_json(row, month, currency, ctx.end)},
                recommended_action=action + ".",
                priority=ctx.priority(severity, impact, currency),
            )
        )
    return out
