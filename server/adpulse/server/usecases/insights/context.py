"""What every kind of insight reads for one GenerateInsights request."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa

from adpulse.server.domain.insights import InsightsRequest, Severity
from adpulse.server.ports import Kernel
from adpulse.server.usecases.analytics import SEASONAL_HISTORY_DAYS
from adpulse.server.usecases.insights.campaigns import CAMPAIGN_KEYS, campaign_key

WINDOW_DAYS = 28


class Context:
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
        self.campaign_totals = {campaign_key(r): r for r in totals}
        by_currency = kernel.aggregate(period, ["currency"]).to_pylist()
        self.spend = {r["currency"]: r["cost_micros"] or 0 for r in by_currency}
        self.currencies = sorted(c for c in self.spend if c)

    def priority(
        self, severity: Severity, impact: int | None, currency: str, confidence: float = 1.0
    ) -> float:
        """Severity first; within a severity, the money at stake as a share of the period's spend;
        both weighed by how sure the finding is (anomalies: `incident_confidence`), so a certain
        small break outranks a doubtful big wobble."""
        spend = self.spend.get(currency, 0)
        share = min((impact or 0) / spend, 0.99) if spend else 0.0
        return confidence * (float(int(severity)) + share)
