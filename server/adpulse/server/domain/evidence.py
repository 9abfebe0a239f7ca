"""Kernel result rows as JSON documents shaped like the adpulse.v1 messages (proto field names,
enum value names), so insights can store their evidence as it is served, and the transport can
parse one shape whether the rows come from a detection or from a stored insight."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from adpulse.server.domain.analytics import AnomalyMethod, Metric

GROUP_FIELDS = ("platform", "account_id", "campaign_id", "campaign_name", "ad_group_id", "ad_id")
SEVERITY_NAMES = {1: "SEVERITY_LOW", 2: "SEVERITY_MEDIUM", 3: "SEVERITY_HIGH", 4: "SEVERITY_CRITICAL"}
_STATUS_NAMES = {
    "new": "SLICE_STATUS_NEW",
    "gone": "SLICE_STATUS_GONE",
    "continuing": "SLICE_STATUS_CONTINUING",
}
_PACING_NAMES = {
    "under": "PACING_STATUS_UNDER",
    "at_risk": "PACING_STATUS_AT_RISK",
    "on_track": "PACING_STATUS_ON_TRACK",
    "over": "PACING_STATUS_OVER",
}


def metric_name(metric: Metric) -> str:
    return f"METRIC_{metric.name}"


def method_name(method: str | None) -> str:
    return f"ANOMALY_METHOD_{AnomalyMethod(method).name}" if method else "ANOMALY_METHOD_UNSPECIFIED"


def direction_name(direction: str | None) -> str:
    return {"up": "DIRECTION_UP", "down": "DIRECTION_DOWN"}.get(direction or "", "DIRECTION_UNSPECIFIED")


def _date(value: dt.date) -> str:
    return value.isoformat()


def _defined(document: dict[str, Any], **values: Any) -> dict[str, Any]:
    """`document` with the values that are not None (unset wrappers stay out)."""
    document.update({k: v for k, v in values.items() if v is not None})
    return document


def group_json(row: Mapping[str, Any]) -> dict[str, Any]:
    group = {f: row[f] for f in GROUP_FIELDS if row.get(f)}
    if row.get("currency"):
        group["currency"] = row["currency"]
    return group


def incident_json(row: Mapping[str, Any], metric: Metric) -> dict[str, Any]:
    return _defined(
        {
            "group": group_json(row),
            "start_date": _date(row["start"]),
            "end_date": _date(row["end"]),
            "days": row["days"],
            "direction": direction_name(row["direction"]),
            "severity": SEVERITY_NAMES.get(row["severity"] or 0, "SEVERITY_UNSPECIFIED"),
            "method": method_name(row["method"]),
            "provisional": row["provisional"],
            "metric": metric_name(metric),
        },
        observed=row["observed"],
        expected=row["expected"],
        peak_score=row["peak_score"],
        confidence=row.get("confidence"),
    )


def point_json(row: Mapping[str, Any]) -> dict[str, Any]:
    return _defined(
        {"date": _date(row["date"]), "anomaly": row["anomaly"], "provisional": row["provisional"]},
        observed=row["observed"],
        expected=row["expected"],
        lower_bound=row["lower"],
        upper_bound=row["upper"],
        score=row["score"],
    )


def anomaly_json(row: Mapping[str, Any]) -> dict[str, Any]:
    return _defined(
        {
            "date": _date(row["date"]),
            "group": group_json(row),
            "direction": direction_name(row["direction"]),
            "severity": SEVERITY_NAMES.get(row["severity"] or 0, "SEVERITY_UNSPECIFIED"),
            "method": method_name(row["method"]),
            "provisional": row["provisional"],
        },
        observed=row["observed"],
        expected=row["expected"],
        lower_bound=row["lower"],
        upper_bound=row["upper"],
        score=row["score"],
    )


def contributor_json(row: Mapping[str, Any]) -> dict[str, Any]:
    return _defined(
        {
            "group": group_json(row),
            "baseline_weight": row["baseline_weight"],
            "current_weight": row["current_weight"],
            "status": _STATUS_NAMES[row["status"]],
            "surprise": row["surprise"],
        },
        baseline=row["baseline"],
        current=row["current"],
        contribution=row["contribution"],
        contribution_micros=row["contribution_micros"],
        share_of_change=row["share"],
        rate_effect=row["rate_effect"],
        mix_effect=row["mix_effect"],
    )


def move_json(row: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "group": group_json(row),
        "spend_per_day_micros": row["spend_per_day_micros"],
        "shift_per_day_micros": row["shift_per_day_micros"],
        "roas": row["roas"],
        "marginal_roas": row["marginal_roas"],
        "marginal_roas_after": row["marginal_roas_after"],
        "revenue_change_per_day_micros": row["revenue_change_per_day_micros"],
        "elasticity": row["elasticity"],
    }


def pacing_json(row: Mapping[str, Any], month: dt.date, currency: str, as_of: dt.date) -> dict[str, Any]:
    return {
        "budget": {
            "platform": row["platform"],
            "account_id": row["account_id"],
            "campaign_id": row["campaign_id"],
            "month": month.strftime("%Y-%m"),
            "amount_micros": row["budget_micros"],
            "currency": currency,
        },
        "spent_micros": row["spent_micros"],
        "run_rate_per_day_micros": row["run_rate_per_day_micros"],
        "projected_micros": row["projected_micros"],
        "status": _PACING_NAMES[row["status"]],
        "as_of_date": _date(as_of),
    }
