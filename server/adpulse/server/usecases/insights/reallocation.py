"""Spend moved from campaigns that earn least at the margin to those that earn most."""

from __future__ import annotations

from typing import Any

from adpulse.server.domain import evidence
from adpulse.server.domain.analytics import Metric
from adpulse.server.domain.insights import Insight, InsightType, Severity, insight_id
from adpulse.server.ports import Kernel
from adpulse.server.usecases.insights.campaigns import CAMPAIGN_KEYS, campaign_name
from adpulse.server.usecases.insights.context import Context
from adpulse.server.usecases.insights.wording import money

MIN_REALLOCATION_DAYS = 14


def reallocation(ctx: Context, kernel: Kernel) -> list[Insight]:
    days = (ctx.end - ctx.start).days + 1
    plan = kernel.reallocate_budget(
        ctx.period,
        CAMPAIGN_KEYS,
        max_shift=ctx.request.max_shift,
        min_days=min(MIN_REALLOCATION_DAYS, max(1, days // 2)),
        carry=["campaign_name"],
    )
    out = []
    for currency in ctx.currencies:
        rows = [r for r in plan.to_pylist() if r["currency"] == currency]
        gain = sum(r["revenue_change_per_day_micros"] for r in rows)
        revenue = sum(r["revenue_per_day_micros"] for r in rows)
        moves = sorted(
            (r for r in rows if r["shift_per_day_micros"]), key=lambda r: r["shift_per_day_micros"]
        )
        # Not worth a person's time under half a percent of revenue (or one unit a day).
        if not moves or gain < max(0.005 * revenue, 1_000_000):
            continue
        moved = sum(r["shift_per_day_micros"] for r in moves if r["shift_per_day_micros"] > 0)
        givers = [r for r in moves if r["shift_per_day_micros"] < 0]
        takers = [r for r in reversed(moves) if r["shift_per_day_micros"] > 0]
        share = gain / revenue if revenue else 1.0
        severity = Severity.HIGH if share >= 0.05 else Severity.MEDIUM if share >= 0.02 else Severity.LOW
        impact = gain * days

        out.append(
            Insight(
                id=insight_id("budget_reallocation", currency, ctx.end.strftime("%Y-%m")),
                type=InsightType.BUDGET_REALLOCATION,
                severity=severity,
                title=f"Move {money(moved, currency)}/day to higher-return campaigns: "
                f"+{money(gain, currency)} revenue/day expected",
                body=f"Spend earns least at the margin in {_moves(givers, currency)}, and most in "
                f"{_moves(takers, currency)}. "
                f"Moving at most {ctx.request.max_shift:.0%} of each campaign's spend keeps the total "
                f"unchanged and should add about {money(gain, currency)} of revenue a day "
                f"({money(impact, currency)} over {days} days).",
                impact_micros=impact,
                currency=currency,
                period_start=ctx.start,
                period_end=ctx.end,
                subject={"currency": currency},
                evidence={
                    "metrics": [evidence.metric_name(Metric.ROAS)],
                    "budget_moves": [evidence.move_json(r) for r in moves],
                },
                recommended_action="Lower the daily budgets of "
                + ", ".join(campaign_name(r) for r in givers[:3])
                + " and raise those of "
                + ", ".join(campaign_name(r) for r in takers[:3])
                + " by the amounts listed; check again after a week.",
                priority=ctx.priority(severity, impact, currency),
            )
        )
    return out


def _moves(group: list[dict[str, Any]], currency: str) -> str:
    listed = ", ".join(
        f"{campaign_name(r)} ({money(abs(r['shift_per_day_micros']), currency)}/day, "
        f"marginal ROAS {r['marginal_roas']:.2f})"
        for r in group[:3]
    )
    return listed + (f" and {len(group) - 3} more" if len(group) > 3 else "")
