"""GenerateInsights and the stored insights and budgets.

One fetch of daily sums per campaign feeds everything: the kernel detects anomalies in eight
metrics, explains each incident by the campaign's ad groups and ads, ranks movers, judges
campaigns against their account, reallocates spend by marginal ROAS and paces budgets. This
module chooses, words and prices what the kernel found; it computes nothing heavier than a
product of two numbers.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from adpulse.server.domain import evidence
from adpulse.server.domain.analytics import ExplainQuery, Metric, default_baseline
from adpulse.server.domain.errors import FailedPrecondition, FieldViolation, InvalidArgument, NotFound
from adpulse.server.domain.insights import (
    DEFAULT_INSIGHT_DAYS,
    Budget,
    Insight,
    InsightListQuery,
    InsightsRequest,
    InsightStatus,
    InsightType,
    InsightUpdate,
    Severity,
    insight_id,
    month_end,
)
from adpulse.server.domain.metrics_query import Dimension, DimensionFilter, FactSelection, GroupColumn
from adpulse.server.ports import FactStore, InsightStore, Kernel
from adpulse.server.usecases.analytics import (
    SEASONAL_HISTORY_DAYS,
    AnomaliesUseCase,
    ChangeExplanation,
    ExplainChangeUseCase,
    daily_sums,
)

CAMPAIGN_KEYS = ("platform", "account_id", "campaign_id")
AD_KEYS = (*CAMPAIGN_KEYS, "ad_group_id", "ad_id")
ACCOUNT_KEYS = ("platform", "account_id")
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
WINDOW_DAYS = 28
MIN_REALLOCATION_DAYS = 14
# Underperformers: clearly worse (CPA 30 % above, ROAS 25 % below the account's), significant
# for the campaign's volume, and big enough to matter (5 % of the account's spend).
UNDERPERFORMANCE = {Metric.CPA: 1.3, Metric.ROAS: 0.75}
MIN_SHARE_OF_ACCOUNT = 0.05
_WORDS = {
    Metric.IMPRESSIONS: "impressions",
    Metric.CLICKS: "clicks",
    Metric.COST: "spend",
    Metric.CONVERSIONS: "conversions",
    Metric.REVENUE: "revenue",
    Metric.CTR: "CTR",
    Metric.CPC: "CPC",
    Metric.CPM: "CPM",
    Metric.CVR: "conversion rate",
    Metric.CPA: "CPA",
    Metric.ROAS: "ROAS",
    Metric.ROI: "ROI",
}


@dataclass(frozen=True)
class Story:
    """An anomaly incident with its explanation and the recommended action."""

    incident: Mapping[str, Any]
    related: list[Mapping[str, Any]]
    explanation: ChangeExplanation | None
    recommended_action: str
    insight: str


@dataclass(frozen=True)
class InsightsReport:
    insights: list[Insight]
    stories: list[Story]
    start: dt.date
    end: dt.date


def _upper(text: str) -> str:
    """The first letter upper-cased, the rest kept (CPA stays CPA)."""
    return text[:1].upper() + text[1:]


def money(micros: float, currency: str) -> str:
    return f"{micros / 1e6:,.2f} {currency}".rstrip()


def percent(relative: float) -> str:
    return f"{relative * 100:+.0f}%"


def span(start: dt.date, end: dt.date) -> str:
    return start.strftime("%b %-d") if start == end else f"{start:%b %-d}–{end:%b %-d}"


def _value(metric: Metric, value: float | None, currency: str) -> str:
    if value is None:
        return "undefined"
    if metric in {Metric.COST, Metric.REVENUE, Metric.CPC, Metric.CPM}:
        return money(value * 1e6, currency)
    if metric is Metric.CPA:
        return money(value * 1e6, currency)
    if metric in {Metric.CTR, Metric.CVR}:
        return f"{value * 100:.2f}%"
    if metric in {Metric.ROAS, Metric.ROI}:
        return f"{value:.2f}"
    return f"{value:,.1f}"


def _campaign(row: Mapping[str, Any]) -> str:
    return str(row.get("campaign_name") or row["campaign_id"])


def _key(row: Mapping[str, Any]) -> tuple[str, ...]:
    return tuple(row[k] for k in CAMPAIGN_KEYS)


# What to do about an incident, by its leading metric and direction. Conversions falling while
# clicks hold is the signature of broken tracking, checked before the table.
_ACTIONS = {
    (Metric.CONVERSIONS, "down"): (
        "Check the conversion tracking of {c}: verify its tag/pixel fires and the conversion action is "
        "active; until it is fixed, keep automated bidding from learning on missing data."
    ),
    (Metric.CONVERSIONS, "up"): (
        "Confirm {c}'s conversion jump is real (no double-counted tag) before scaling it."
    ),
    (Metric.REVENUE, "up"): (
        "Find what drove {c}'s revenue spike and, if it holds, raise its budget step by step while ROAS "
        "stays on target."
    ),
    (Metric.REVENUE, "down"): (
        "Check {c}'s landing pages, stock and prices: revenue fell while it kept spending."
    ),
    (Metric.COST, "up"): (
        "Check {c}'s daily budget and bid settings: spend ran above its usual range; cap the budget if "
        "the increase was not planned."
    ),
    (Metric.COST, "down"): (
        "Check {c}'s delivery: budget exhausted, billing, disapproved ads or a paused ad group."
    ),
    (Metric.CPC, "up"): (
        "Review {c}'s bids and auction competition: set a max-CPC or target-CPA cap, or move budget to "
        "its cheaper ad groups."
    ),
    (Metric.CPC, "down"): "{c} buys clicks cheaper than usual: consider raising its budget while CPC is low.",
    (Metric.CTR, "down"): (
        "Refresh {c}'s creatives and check for disapproved or fatigued ads and targeting changes: its CTR "
        "collapsed."
    ),
    (Metric.CTR, "up"): "Learn from {c}'s CTR jump (new creative or audience?) and apply it elsewhere.",
    (Metric.CVR, "down"): (
        "Check {c}'s landing page and checkout (speed, errors, offer): clicks convert less."
    ),
    (Metric.CVR, "up"): "Confirm {c}'s conversion-rate jump is real before scaling it.",
    (Metric.CPA, "up"): (
        "Lower {c}'s bids or target CPA, or pause its weakest ad groups: each conversion costs more than "
        "usual."
    ),
    (Metric.CPA, "down"): "{c} converts cheaper than usual: consider giving it more budget.",
    (Metric.ROAS, "down"): "Cut {c}'s budget or bids until ROAS recovers, and check its revenue tracking.",
    (Metric.ROAS, "up"): "{c} returns more per unit of spend than usual: consider raising its budget.",
}


class InsightsUseCase:
    def __init__(
        self,
        kernel: Kernel,
        *,
        facts: FactStore,
        store: InsightStore,
        anomalies: AnomaliesUseCase,
        explain: ExplainChangeUseCase,
        today: Callable[[], dt.date],
    ) -> None:
        self._kernel = kernel
        self._facts = facts
        self._store = store
        self._anomalies = anomalies
        self._explain = explain
        self._today = today

    # -- generation

    def generate(self, request: InsightsRequest) -> InsightsReport:
        span_ = self._facts.date_span(FactSelection(request.tenant, None, None, request.filters))
        start, end = request.dates.resolve(span_[1] if span_ else self._today(), DEFAULT_INSIGHT_DAYS)
        history = start - dt.timedelta(days=WINDOW_DAYS + SEASONAL_HISTORY_DAYS)
        sums = daily_sums(
            self._facts, FactSelection(request.tenant, history, end, request.filters), CAMPAIGN_KEYS
        )
        period = sums.filter(pc.greater_equal(sums["date"], pa.scalar(start, pa.date32())))
        context = _Context(request, start=start, end=end, sums=sums, period=period, kernel=self._kernel)
        found: list[Insight] = []
        stories: dict[str, Story] = {}
        platforms = self._facts.platforms(FactSelection(request.tenant, start, end, request.filters))
        for insight, story in self._anomaly_insights(context, platforms):
            found.append(insight)
            stories[insight.id] = story
        found += self._movers(context)
        found += self._underperformers(context)
        found += self._reallocation(context)
        found += self._pacing(context)
        stored = self._store.save(request.tenant, found)
        shown = sorted(
            (i for i in stored if i.status is not InsightStatus.DISMISSED),
            key=lambda i: (-i.priority, i.id),
        )[: request.max_insights]
        chosen = [stories[i.id] for i in shown if request.include_stories and i.id in stories]
        return InsightsReport(shown, chosen, start, end)

    def _anomaly_insights(self, ctx: _Context, platforms: Sequence[str]) -> list[tuple[Insight, Story]]:
        sensitivity = ctx.request.sensitivity
        incidents: list[dict[str, Any]] = []
        points: dict[Metric, pa.Table] = {}
        for metric in DETECT_METRICS:
            series, found = self._anomalies.detect(
                ctx.sums,
                CAMPAIGN_KEYS,
                metric,
                ctx.start,
                ctx.end,
                platforms=platforms,
                threshold=sensitivity.threshold,
                change_threshold=sensitivity.change_threshold,
                window=WINDOW_DAYS,
                all_points=True,
            )
            points[metric] = series
            incidents += [{**row, "metric": metric} for row in found.to_pylist()]
        clusters = _clusters(incidents)[: ctx.request.max_insights * 2]
        ads = self._ad_sums(ctx, clusters)
        return [self._anomaly_insight(ctx, cluster, points, ads) for cluster in clusters]

    def _ad_sums(self, ctx: _Context, clusters: list[list[dict[str, Any]]]) -> pa.Table:
        """Daily sums per ad of the incidents' campaigns over all their periods and baselines, in
        one query: one query per incident made a large tenant's insights slow."""
        leads = [cluster[0] for cluster in clusters]
        if not leads:
            return pa.table({})
        first = min(default_baseline(_span(cluster))[0] for cluster in clusters)
        last = max(_span(cluster)[1] for cluster in clusters)
        only = tuple(
            DimensionFilter(dim, tuple(sorted({lead[col] for lead in leads})))
            for dim, col in zip(
                (Dimension.PLATFORM, Dimension.ACCOUNT, Dimension.CAMPAIGN), CAMPAIGN_KEYS, strict=True
            )
        )
        selection = FactSelection(ctx.request.tenant, first, last, ctx.request.filters + only)
        return daily_sums(self._facts, selection, AD_KEYS)

    def _anomaly_insight(
        self,
        ctx: _Context,
        cluster: list[dict[str, Any]],
        points: Mapping[Metric, pa.Table],
        ads: pa.Table,
    ) -> tuple[Insight, Story]:
        lead = cluster[0]
        metric: Metric = lead["metric"]
        first, last = _span(cluster)
        currency = lead.get("currency") or ""
        name = _campaign(lead)
        explanation = self._explain_incident(ctx, lead, (first, last), metric, ads)
        observed, expected = lead["observed"], lead["expected"]
        relative = (observed - expected) / abs(expected) if observed is not None and expected else None
        way = "up" if lead["direction"] == "up" else "down"
        change = f" {abs(relative):.0%}" if relative is not None else ""
        title = f"{name}: {_WORDS[metric]} {way}{change} on {span(first, last)}"
        body = (
            f"{_upper(_WORDS[metric])} of {name} ({lead['platform']}): "
            f"{_value(metric, observed, currency)} against {_value(metric, expected, currency)} expected "
            f"over {lead['days']} day(s)."
        )
        others = cluster[1:]
        if others:
            body += " Also: " + ", ".join(_moved(i) for i in others) + "."
        top = _top_contributor(explanation)
        if top is not None:
            body += f" Most of it comes from {top}."
        if lead["provisional"]:
            body += " Some of these days may still be restated by the platform."
        action = _action(metric, lead["direction"], cluster).format(c=name)
        impact = _impact(lead, metric, ctx.campaign_totals.get(_key(lead)))
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
            id=insight_id("anomaly", *_key(lead), first.isoformat()),
            type=InsightType.ANOMALY,
            severity=severity,
            title=title,
            body=body,
            impact_micros=impact,
            currency=currency,
            period_start=first,
            period_end=last,
            subject=_subject(lead),
            evidence=doc,
            recommended_action=action,
            priority=ctx.priority(severity, impact, currency),
        )
        story = Story(
            incident=evidence.incident_json(lead, metric),
            related=[evidence.incident_json(i, i["metric"]) for i in others],
            explanation=explanation,
            recommended_action=action,
            insight=f"insights/{insight.id}",
        )
        return insight, story

    def _explain_incident(
        self,
        ctx: _Context,
        lead: Mapping[str, Any],
        current: tuple[dt.date, dt.date],
        metric: Metric,
        ads: pa.Table,
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
            pc.and_(
                pc.equal(ads["platform"], lead["platform"]), pc.equal(ads["account_id"], lead["account_id"])
            ),
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
            return self._explain.explain_table(query, rows.append_column("period", label))
        except FailedPrecondition:
            return None

    def _movers(self, ctx: _Context) -> list[Insight]:
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
            found = self._kernel.explain_change(
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
                f"{_campaign(r)} {_amount(r['contribution_micros'], r['contribution'], currency)}"
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
                    title=f"{_upper(_WORDS[metric])} {change} vs the previous {days} days ({currency})",
                    body=f"{_upper(_WORDS[metric])} changed by {total} against {span(*baseline)}. "
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

    def _underperformers(self, ctx: _Context) -> list[Insight]:
        out = []
        for metric, factor in UNDERPERFORMANCE.items():
            judged = self._kernel.compare_to_parent(
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
                name = _campaign(row)
                excess = row["excess_micros"]
                what = (
                    "cost beyond the account's CPA"
                    if metric is Metric.CPA
                    else "revenue short of the account's ROAS"
                )
                out.append(
                    Insight(
                        id=insight_id("underperformer", *_key(row), metric.value, ctx.end.strftime("%Y-%m")),
                        type=InsightType.UNDERPERFORMER,
                        severity=severity,
                        title=f"{name}: {_WORDS[metric]} {_value(metric, value, currency)} vs the account's "
                        f"{_value(metric, parent, currency)}",
                        body=f"Over {span(ctx.start, ctx.end)} {name} ({row['platform']}) had a "
                        f"{_WORDS[metric]} of {_value(metric, value, currency)} while its account averaged "
                        f"{_value(metric, parent, currency)}, on {money(row['cost_micros'], currency)} of "
                        f"spend: {money(excess, currency)} of {what}.",
                        impact_micros=excess,
                        currency=currency,
                        period_start=ctx.start,
                        period_end=ctx.end,
                        subject=_subject(row),
                        evidence={"metrics": [evidence.metric_name(metric)]},
                        recommended_action=f"Review {name}'s targeting, bids and landing pages, or move part "
                        "of its budget to the account's better campaigns.",
                        priority=ctx.priority(severity, excess, currency),
                    )
                )
        return out

    def _reallocation(self, ctx: _Context) -> list[Insight]:
        days = (ctx.end - ctx.start).days + 1
        plan = self._kernel.reallocate_budget(
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
                    + ", ".join(_campaign(r) for r in givers[:3])
                    + " and raise those of "
                    + ", ".join(_campaign(r) for r in takers[:3])
                    + " by the amounts listed; check again after a week.",
                    priority=ctx.priority(severity, impact, currency),
                )
            )
        return out

    def _pacing(self, ctx: _Context) -> list[Insight]:
        month = ctx.end.replace(day=1)
        budgets, _ = self._store.budgets(ctx.request.tenant, month)
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
        paced = self._kernel.budget_pacing(in_month, CAMPAIGN_KEYS, table, month, month_end(month), ctx.end)
        names = {
            _key(r): _campaign(r) for r in in_month.select([*CAMPAIGN_KEYS, "campaign_name"]).to_pylist()
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
            name = names.get(_key(row), budget.campaign_id)
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
                    id=insight_id("pacing", *_key(row), month.isoformat()),
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

    # -- stored insights and budgets

    def page(self, query: InsightListQuery) -> tuple[list[Insight], int]:
        return self._store.page(query.tenant, query.filter, query.offset, query.page_size)

    def update(self, change: InsightUpdate) -> Insight:
        updated = self._store.update(change)
        if updated is None:
            raise NotFound(f"insights/{change.id} does not exist", "INSIGHT_NOT_FOUND")
        return updated

    def set_budget(self, tenant: str, budget: Budget) -> Budget:
        campaign = FactSelection(
            tenant,
            None,
            None,
            (
                DimensionFilter(Dimension.PLATFORM, (budget.platform,)),
                DimensionFilter(Dimension.ACCOUNT, (budget.account_id,)),
                DimensionFilter(Dimension.CAMPAIGN, (budget.campaign_id,)),
            ),
        )
        currencies = set(
            self._facts.grouped_sums(campaign, [GroupColumn("campaign_id")], False)["currency"].to_pylist()
        )
        if currencies and budget.currency not in currencies:
            raise InvalidArgument(
                f"the campaign spends in {', '.join(sorted(currencies))}, not {budget.currency}",
                "CURRENCY_MISMATCH",
                violations=[
                    FieldViolation("budget.currency", "not the campaign's currency", "CURRENCY_MISMATCH")
                ],
            )
        return self._store.set_budget(tenant, budget)

    def budgets(
        self, tenant: str, month: dt.date | None, offset: int, limit: int
    ) -> tuple[list[Budget], int]:
        return self._store.budgets(tenant, month, offset, limit)


class _Context:
    """What every kind of insight reads: the request, its range, and the campaign sums."""

    def __init__(
        self,
        request: InsightsRequest,
        *,
        start: dt.date,
        end: dt.date,
        sums: pa.Table,
        period: pa.Table,
        kernel: Kernel,
    ) -> None:
        self.request = request
        self.start, self.end = start, end
        self.history_start = start - dt.timedelta(days=WINDOW_DAYS + SEASONAL_HISTORY_DAYS)
        self.sums, self.period = sums, period
        totals = kernel.aggregate(period, list(CAMPAIGN_KEYS)).to_pylist()
        self.campaign_totals = {_key(r): r for r in totals}
        by_currency = kernel.aggregate(period, ["currency"]).to_pylist()
        self.spend = {r["currency"]: r["cost_micros"] or 0 for r in by_currency}
        self.currencies = sorted(c for c in self.spend if c)

    def priority(self, severity: Severity, impact: int | None, currency: str) -> float:
        """Severity first; within a severity, the money at stake as a share of the period's spend."""
        spend = self.spend.get(currency, 0)
        share = min((impact or 0) / spend, 0.99) if spend else 0.0
        return float(int(severity)) + share


def _subject(row: Mapping[str, Any]) -> dict[str, str]:
    subject = {k: row[k] for k in (*CAMPAIGN_KEYS, "campaign_name") if row.get(k) is not None}
    if row.get("currency"):
        subject["currency"] = row["currency"]
    return subject


def _clusters(incidents: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """Incidents of one campaign whose days overlap or touch are one insight, led by the most
    severe (then by metric order); clusters come most severe first."""
    order = {m: i for i, m in enumerate(DETECT_METRICS)}
    incidents = sorted(incidents, key=lambda i: (_key(i), i["start"]))
    clusters: list[list[dict[str, Any]]] = []
    for inc in incidents:
        last = clusters[-1] if clusters else None
        if (
            last
            and _key(last[0]) == _key(inc)
            and inc["start"] <= max(i["end"] for i in last) + dt.timedelta(days=1)
        ):
            last.append(inc)
        else:
            clusters.append([inc])
    for cluster in clusters:
        cluster.sort(key=lambda i: order[i["metric"]])
    return sorted(clusters, key=lambda c: (-(c[0]["severity"] or 0), -abs(c[0]["peak_score"] or 0)))


def _moved(incident: Mapping[str, Any]) -> str:
    """E.g. "CPA up +40%": another metric of the same incident."""
    text = f"{_WORDS[incident['metric']]} {incident['direction']}"
    if incident["expected"] and incident["observed"] is not None:
        text += f" {abs(incident['observed'] - incident['expected']) / abs(incident['expected']):.0%}"
    return text


def _amount(micros: int | None, value: float, currency: str) -> str:
    return money(micros, currency) if micros is not None else f"{value:+,.1f}"


def _moves(group: list[dict[str, Any]], currency: str) -> str:
    listed = ", ".join(
        f"{_campaign(r)} ({money(abs(r['shift_per_day_micros']), currency)}/day, "
        f"marginal ROAS {r['marginal_roas']:.2f})"
        for r in group[:3]
    )
    return listed + (f" and {len(group) - 3} more" if len(group) > 3 else "")


def _action(metric: Metric, direction: str, cluster: list[dict[str, Any]]) -> str:
    metrics = {i["metric"] for i in cluster}
    lost_conversions = metric in {Metric.CONVERSIONS, Metric.CVR, Metric.CPA, Metric.ROAS, Metric.REVENUE}
    if lost_conversions and direction in {"down", "up"} and Metric.CONVERSIONS in metrics:
        conversions = next(i for i in cluster if i["metric"] is Metric.CONVERSIONS)
        clicks_held = Metric.CTR not in metrics and Metric.COST not in metrics
        if conversions["direction"] == "down" and clicks_held:
            return _ACTIONS[(Metric.CONVERSIONS, "down")]
    return _ACTIONS.get((metric, direction), "Look into {c}: it moved far outside its usual range.")


def _span(cluster: Sequence[Mapping[str, Any]]) -> tuple[dt.date, dt.date]:
    """The days an incident's metrics were anomalous, from the first to the last."""
    return min(i["start"] for i in cluster), max(i["end"] for i in cluster)


def _top_contributor(explanation: ChangeExplanation | None) -> str | None:
    if explanation is None or not explanation.explanation.dimensions:
        return None
    best = explanation.explanation.dimensions[0]
    rows = best.contributors.to_pylist()
    if not rows or rows[0]["share"] is None or rows[0]["share"] < 0.5:
        return None
    row = rows[0]
    label = {"ad_group": "ad group", "ad": "ad"}.get(best.name, best.name)
    return f"{label} {row.get('ad_id') or row.get('ad_group_id')} ({row['share']:.0%} of the change)"


def _impact(incident: Mapping[str, Any], metric: Metric, totals: Mapping[str, Any] | None) -> int | None:
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
