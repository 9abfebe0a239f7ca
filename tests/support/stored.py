"""Reading back everything a tenant has stored, through the public API."""

from __future__ import annotations

from adpulse.client import AdpulseClient


def stored_rows(client: AdpulseClient) -> list[tuple[object, ...]]:
    """One tuple per stored fact (grouped by ad and day, which is the fact key)."""
    result = client.query_metrics(by=["ad", "date"])
    return [
        (
            r.dimensions["platform"],
            r.dimensions["account"],
            r.dimensions["campaign"],
            r.dimensions["ad_group"],
            r.dimensions["ad"],
            r.dimensions["date"],
            r.impressions,
            r.cost,
            r.clicks,
            r.conversions,
            r.revenue,
        )
        for r in result.rows
    ]
