"""The daily campaign rollup in ClickHouse (table campaign_daily), re-derived from ad_metrics."""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

from adpulse.server.storage.clickhouse import unavailable_on_failure
from adpulse.server.storage.fact_store import TABLE as FACTS

TABLE = "campaign_daily"
_KEY = "platform, account_id, campaign_id, currency"
_RANGE = "tenant = {tenant:String} AND date BETWEEN {first:Date} AND {last:Date}"
_SUMS = "sum(impressions), sum(clicks), sum(cost_micros), sum(conversions_micros), sum(revenue_micros)"
# One statement: the new sums of every (day, campaign, currency) the facts have, and a
# tombstone for every one the rollup has and the facts no longer do.
_REBUILD = f"""
INSERT INTO {TABLE} (tenant, date, {_KEY}, campaign_name, ads, impressions, clicks, cost_micros,
                     conversions_micros, revenue_micros, version, is_deleted)
SELECT tenant, date, {_KEY}, argMax(campaign_name, version), uniqExact(ad_group_id, ad_id), {_SUMS},
       {{version:UInt64}}, 0
FROM {FACTS} FINAL WHERE {_RANGE}
GROUP BY tenant, date, {_KEY}
UNION ALL
SELECT tenant, date, {_KEY}, '', 0, 0, 0, 0, 0, 0, {{version:UInt64}}, 1
FROM {TABLE} FINAL WHERE {_RANGE}
  AND (date, {_KEY}) NOT IN (SELECT date, {_KEY} FROM {FACTS} FINAL WHERE {_RANGE})
"""
_SETTINGS = {"do_not_merge_across_partitions_select_final": 1}


class ClickHouseRollups:
    def __init__(self, client: Any) -> None:
        self._client = client

    def rebuild_campaign_daily(self, tenant: str, first: dt.date, last: dt.date) -> int:
        """Re-derives the days' rollup rows; how many (day, campaign, currency) rows it now has."""
        params = {"tenant": tenant, "first": first, "last": last, "version": time.time_ns()}
        with unavailable_on_failure():
            self._client.command(_REBUILD, parameters=params, settings=_SETTINGS)
            rows = self._client.query(
                f"SELECT count() FROM {TABLE} FINAL WHERE {_RANGE}", parameters=params, settings=_SETTINGS
            ).result_rows
        return int(rows[0][0])

    def campaign_daily_mismatches(self, tenant: str, first: dt.date, last: dt.date) -> list[str]:
        """Currencies whose rollup sums over the days differ from the facts' sums (none after a
        correct rebuild, unless facts arrived meanwhile)."""
        params = {"tenant": tenant, "first": first, "last": last}
        sql = (
            f"SELECT currency, {_SUMS} FROM {{table:Identifier}} FINAL WHERE {_RANGE} "
            "GROUP BY currency ORDER BY currency"
        )
        with unavailable_on_failure():
            facts, rollup = (
                {
                    row[0]: row[1:]
                    for row in self._client.query(
                        sql, parameters={**params, "table": table}, settings=_SETTINGS
                    ).result_rows
                }
                for table in (FACTS, TABLE)
            )
        return sorted(c for c in facts.keys() | rollup.keys() if facts.get(c) != rollup.get(c))
