"""What to do about an anomaly incident, in words a person can act on."""

from __future__ import annotations

from typing import Any

from adpulse.server.domain.analytics import Metric

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


def action_for(metric: Metric, direction: str, cluster: list[dict[str, Any]]) -> str:
    metrics = {i["metric"] for i in cluster}
    lost_conversions = metric in {Metric.CONVERSIONS, Metric.CVR, Metric.CPA, Metric.ROAS, Metric.REVENUE}
    if lost_conversions and direction in {"down", "up"} and Metric.CONVERSIONS in metrics:
        conversions = next(i for i in cluster if i["metric"] is Metric.CONVERSIONS)
        clicks_held = Metric.CTR not in metrics and Metric.COST not in metrics
        if conversions["direction"] == "down" and clicks_held:
            return _ACTIONS[(Metric.CONVERSIONS, "down")]
    return _ACTIONS.get((metric, direction), "Look into {c}: it moved far outside its usual range.")
