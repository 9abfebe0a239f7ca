"""Which columns say which campaign a row is, and how the campaign is named to a person."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

CAMPAIGN_KEYS = ("platform", "account_id", "campaign_id")
AD_KEYS = (*CAMPAIGN_KEYS, "ad_group_id", "ad_id")
ACCOUNT_KEYS = ("platform", "account_id")


def campaign_name(row: Mapping[str, Any]) -> str:
    return str(row.get("campaign_name") or row["campaign_id"])


def campaign_key(row: Mapping[str, Any]) -> tuple[str, ...]:
    return tuple(row[k] for k in CAMPAIGN_KEYS)


def campaign_subject(row: Mapping[str, Any]) -> dict[str, str]:
    subject = {k: row[k] for k in (*CAMPAIGN_KEYS, "campaign_name") if row.get(k) is not None}
    if row.get("currency"):
        subject["currency"] = row["currency"]
    return subject
