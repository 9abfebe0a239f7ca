"""Insights and budgets: what they are, their stable ids, and the requests about them."""

from __future__ import annotations

import datetime as dt
import enum
import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from adpulse.server.domain.analytics import DateRange, Sensitivity, check_dates, check_filters, invalid
from adpulse.server.domain.metrics_query import DimensionFilter, clamp_page_size

DEFAULT_INSIGHT_DAYS = 28
DEFAULT_MAX_INSIGHTS = 20
MAX_INSIGHTS = 100
DEFAULT_MAX_SHIFT = 0.2
MAX_FEEDBACK_CHARS = 2000


class InsightType(enum.Enum):
    ANOMALY = "anomaly"
    TOP_MOVERS = "top_movers"
    UNDERPERFORMER = "underperformer"
    BUDGET_REALLOCATION = "budget_reallocation"
    PACING = "pacing"


class InsightStatus(enum.Enum):
    NEW = "new"
    ACKNOWLEDGED = "acknowledged"
    DISMISSED = "dismissed"


class Severity(enum.IntEnum):
    LOW = 1
    MEDIUM = 2
    HIGH = 3
    CRITICAL = 4


def insight_id(*parts: object) -> str:
    """A stable id from what an insight is about: finding the same thing again gives the same
    id, so its status and feedback survive regeneration."""
    text = "\x1f".join(str(p) for p in parts)
    return hashlib.sha256(text.encode()).hexdigest()[:20]


@dataclass(frozen=True)
class Insight:
    """A finding, with the numbers it rests on.

    `subject` holds the group it is about (platform, account_id, campaign_id, campaign_name,
    currency). `evidence` is a JSON document shaped like adpulse.v1.InsightEvidence (field
    names as in the proto), so it is stored and served as is.
    """

    id: str
    type: InsightType
    severity: Severity
    title: str
    body: str
    impact_micros: int | None
    currency: str
    period_start: dt.date
    period_end: dt.date
    subject: Mapping[str, str]
    evidence: Mapping[str, Any]
    recommended_action: str
    priority: float
    status: InsightStatus = InsightStatus.NEW
    feedback: str = ""
    created_at: dt.datetime | None = None
    updated_at: dt.datetime | None = None


@dataclass(frozen=True)
class InsightsRequest:
    tenant: str
    dates: DateRange
    filters: tuple[DimensionFilter, ...]
    sensitivity: Sensitivity
    max_shift: float
    include_stories: bool
    max_insights: int
    # Ranked insights skipped before the page (AIP-158 paging of GenerateInsights).
    offset: int = 0


def build_insights_request(
    *,
    tenant: str,
    start_date: str,
    end_date: str,
    filters: tuple[DimensionFilter, ...],
    sensitivity: Sensitivity,
    max_shift: float | None,
    include_stories: bool,
    max_insights: int,
    offset: int = 0,
) -> InsightsRequest:
    shift = DEFAULT_MAX_SHIFT if max_shift is None else max_shift
    if not 0 < shift <= 1:
        raise invalid("max_shift", "must be above 0 and at most 1", "INVALID_MAX_SHIFT")
    if not 0 <= max_insights <= MAX_INSIGHTS:
        raise invalid("max_insights", f"must be 0 to {MAX_INSIGHTS}", "INVALID_MAX_INSIGHTS")
    return InsightsRequest(
        tenant=tenant,
        dates=check_dates(start_date, end_date, "start_date", "end_date"),
        filters=check_filters(filters),
        sensitivity=sensitivity,
        max_shift=shift,
        include_stories=include_stories,
        max_insights=max_insights or DEFAULT_MAX_INSIGHTS,
        offset=offset,
    )


@dataclass(frozen=True)
class InsightFilter:
    """Which stored insights to list; empty collections mean any."""

    types: frozenset[InsightType] = frozenset()
    statuses: frozenset[InsightStatus] = frozenset()
    min_severity: Severity | None = None
    campaign_id: str = ""
    start: dt.date | None = None
    end: dt.date | None = None


@dataclass(frozen=True)
class InsightListQuery:
    tenant: str
    filter: InsightFilter
    offset: int
    page_size: int


def build_list_query(
    *, tenant: str, insight_filter: InsightFilter, start_date: str, end_date: str, page_size: int, offset: int
) -> InsightListQuery:
    dates = check_dates(start_date, end_date, "start_date", "end_date")
    chosen = InsightFilter(
        types=insight_filter.types,
        statuses=insight_filter.statuses,
        min_severity=insight_filter.min_severity,
        campaign_id=insight_filter.campaign_id,
        start=dates.start,
        end=dates.end,
    )
    return InsightListQuery(tenant, chosen, offset, clamp_page_size(page_size))


@dataclass(frozen=True)
class InsightUpdate:
    tenant: str
    id: str
    status: InsightStatus | None
    feedback: str | None


_NAME = re.compile(r"insights/([0-9a-f]{1,64})")


def build_update(
    *, tenant: str, name: str, paths: tuple[str, ...], status: InsightStatus | None, feedback: str
) -> InsightUpdate:
    match = _NAME.fullmatch(name)
    if not match:
        raise invalid("insight.name", "expected insights/{id}", "INVALID_NAME")
    chosen = paths or ("status", "feedback")
    unknown = [p for p in chosen if p not in {"status", "feedback"}]
    if unknown:
        raise invalid("update_mask", f"only status and feedback can change, not {unknown[0]}", "INVALID_MASK")
    if "status" in chosen and status is None:
        raise invalid("insight.status", "set a status to change it to", "INVALID_STATUS")
    if "feedback" in chosen and len(feedback) > MAX_FEEDBACK_CHARS:
        raise invalid("insight.feedback", f"at most {MAX_FEEDBACK_CHARS} characters", "FEEDBACK_TOO_LONG")
    return InsightUpdate(
        tenant=tenant,
        id=match.group(1),
        status=status if "status" in chosen else None,
        feedback=feedback if "feedback" in chosen else None,
    )


@dataclass(frozen=True)
class Budget:
    """A campaign's budget for one calendar month (`month` is its first day)."""

    platform: str
    account_id: str
    campaign_id: str
    month: dt.date
    amount_micros: int
    currency: str
    updated_at: dt.datetime | None = field(default=None, compare=False)


_MONTH = re.compile(r"(\d{4})-(\d{2})")
_CURRENCY = re.compile(r"[A-Z]{3}")


def parse_month(text: str, field_name: str) -> dt.date:
    match = _MONTH.fullmatch(text)
    if not match or not 1 <= int(match.group(2)) <= 12:
        raise invalid(field_name, f"{text!r} is not a month (expected YYYY-MM)", "INVALID_MONTH")
    return dt.date(int(match.group(1)), int(match.group(2)), 1)


def build_budget(
    *, platform: str, account_id: str, campaign_id: str, month: str, amount_micros: int, currency: str
) -> Budget:
    for name, value in (("platform", platform), ("account_id", account_id), ("campaign_id", campaign_id)):
        if not value.strip():
            raise invalid(f"budget.{name}", "must not be empty", "MISSING_FIELD")
    if amount_micros < 0:
        raise invalid("budget.amount_micros", "must not be negative", "INVALID_AMOUNT")
    if not _CURRENCY.fullmatch(currency):
        raise invalid("budget.currency", "expected an ISO 4217 code such as EUR", "INVALID_CURRENCY")
    return Budget(
        platform=platform,
        account_id=account_id,
        campaign_id=campaign_id,
        month=parse_month(month, "budget.month"),
        amount_micros=amount_micros,
        currency=currency,
    )


def month_end(month: dt.date) -> dt.date:
    following = (month.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    return following - dt.timedelta(days=1)
