"""InsightsUseCase: GenerateInsights over every kind of insight, and the stored insights and
budgets."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc

from adpulse.server.domain.errors import FieldViolation, InvalidArgument, NotFound
from adpulse.server.domain.insights import (
    DEFAULT_INSIGHT_DAYS,
    Budget,
    Insight,
    InsightListQuery,
    InsightsRequest,
    InsightStatus,
    InsightUpdate,
)
from adpulse.server.domain.metrics_query import Dimension, DimensionFilter, FactSelection, GroupColumn
from adpulse.server.ports import FactStore, InsightEvents, InsightStore, Kernel
from adpulse.server.usecases.analytics import (
    SEASONAL_HISTORY_DAYS,
    AnomaliesUseCase,
    ExplainChangeUseCase,
    daily_sums,
)
from adpulse.server.usecases.insights.campaigns import CAMPAIGN_KEYS
from adpulse.server.usecases.insights.context import WINDOW_DAYS, Context
from adpulse.server.usecases.insights.incidents import Story, anomaly_insights
from adpulse.server.usecases.insights.movers import top_movers
from adpulse.server.usecases.insights.pacing import pacing
from adpulse.server.usecases.insights.reallocation import reallocation
from adpulse.server.usecases.insights.underperformers import underperformers


@dataclass(frozen=True)
class InsightsReport:
    insights: list[Insight]
    stories: list[Story]
    start: dt.date
    end: dt.date
    total_size: int
    next_offset: int | None


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
        events: InsightEvents | None = None,
    ) -> None:
        self._events = events
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
        context = Context(request, start=start, end=end, sums=sums, period=period, kernel=self._kernel)
        found: list[Insight] = []
        stories: dict[str, Story] = {}
        platforms = self._facts.platforms(FactSelection(request.tenant, start, end, request.filters))
        for insight, story in anomaly_insights(
            context, platforms, facts=self._facts, anomalies=self._anomalies, explain=self._explain
        ):
            found.append(insight)
            stories[insight.id] = story
        found += top_movers(context, self._kernel)
        found += underperformers(context, self._kernel)
        found += reallocation(context, self._kernel)
        found += pacing(context, self._kernel, self._store)
        stored = self._store.save(request.tenant, found)
        if self._events is not None:
            self._events.stored(request.tenant, stored)
        ranked = sorted(
            (i for i in stored if i.status is not InsightStatus.DISMISSED),
            key=lambda i: (-i.priority, i.id),
        )
        last = request.offset + request.max_insights
        shown = ranked[request.offset : last]
        chosen = [stories[i.id] for i in shown if request.include_stories and i.id in stories]
        return InsightsReport(shown, chosen, start, end, len(ranked), last if last < len(ranked) else None)

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
