"""How metrics, numbers, money and days are told in plain language."""

from __future__ import annotations

import datetime as dt

from adpulse.server.domain.analytics import Metric

METRIC_WORDS = {
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


def upper_first(text: str) -> str:
    """The first letter upper-cased, the rest kept (CPA stays CPA)."""
    return text[:1].upper() + text[1:]


def money(micros: float, currency: str) -> str:
    return f"{micros / 1e6:,.2f} {currency}".rstrip()


def percent(relative: float) -> str:
    return f"{relative * 100:+.0f}%"


def span(start: dt.date, end: dt.date) -> str:
    return start.strftime("%b %-d") if start == end else f"{start:%b %-d}–{end:%b %-d}"


def metric_value(metric: Metric, value: float | None, currency: str) -> str:
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
