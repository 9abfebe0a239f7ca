"""InsightsUseCase: GenerateInsights over every kind of insight, and the stored insights and
budgets."""

from __future__ import annotations

import datetime as dt
import uuid
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
from adpulse.server.usecases.result_cache import ResultCache

# About what a stored insight or story holds beyond its explanation's tables (text, evidence).
_DOCUMENT_BYTES = 8192


@dataclass(frozen=True)
class InsightsReport:
    insights: list[Insight]
    stories: list[Story]
    start: dt.date
    end: dt.date
    total_size: int
    next_offset: int | None
    run: str


@dataclass(frozen=True)
class InsightsRun:
    """What one generation found, ranked: every page of its page tokens is cut from it."""

    ranked: list[Insight]
    stories: dict[str, Story]
    start: dt.date
    end: dt.date

    @property
    def nbytes(self) -> int:
        tables: int = sum(
            int(dim.contributors.nbytes)
            for story in self.stories.values()
            if story.explanation is not None
            for dim in story.explanation.explanation.dimensions
        )
        return tables + _DOCUMENT_BYTES * (len(self.ranked) + len(self.stories))


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
        runs: ResultCache[InsightsRun],
        events: InsightEvents | None = None,
    ) -> None:
        self._runs = runs
        self._events = events
        self._kernel = kernel
        self._facts = facts
        self._store = store
        self._anomalies = anomalies
        self._explain = explain
        self._today = today

    # -- generation

    def generate(self, request: InsightsRequest, run: str = "") -> InsightsReport:
        """A page of the insights found. `run` names the generation an earlier page came from:
        while this process keeps it, later pages are cut from it (nothing is recomputed, and
        the pages agree); otherwise, and without `run`, the insights are generated anew."""
        found = self._runs.get((request.tenant, run)) if run else None
        if found is None:
            run, found = uuid.uuid4().hex, self._run(request)
            self._runs.put((request.tenant, run), found, found.nbytes)
        last = request.offset + request.max_insights
        shown = found.ranked[request.offset : last]
        chosen = [found.stories[i.id] for i in shown if request.include_stories and i.id in found.stories]
        more = last if last < len(found.ranked) else None
        return InsightsReport(shown, chosen, found.start, found.end, len(found.ranked), more, run)

    def _run(self, request: InsightsRequest) -> InsightsRun:
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
        return InsightsRun(ranked, stories, start, end)

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
