"""The daily rollups in ClickHouse, re-derived from ad_metrics: campaign_daily (tenant × date ×
platform × account × campaign × currency) and account_daily (the same without campaign).

Exact under restatement by rebuilding, not by adding: a rebuild re-sums the facts (FINAL, so
the latest version of each fact row) of the keys in its scope, writes each key with a new
version, and a tombstone (is_deleted = 1) for every key the rollup has in the scope and the
facts no longer do (an ad moved to another campaign or currency). Reading a rollup FINAL then
gives exactly the facts' sums as of the last rebuild of each key.

The search index (storage/dimension_values.py) is derived with them, after them.

Every insert rebuilds the (day, campaign) keys it touched (the fact store calls `refresh` before
the batch is acknowledged), so its cost follows the batch's keys, not the table; backfills
rebuild whole days. The version is ClickHouse's
own clock at the statement's start, which is also when it takes its snapshot of the facts: of
two rebuilds of a key, the later version has read at least what the earlier one read, whichever
process ran them and in whichever order they finish.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from adpulse.server.domain.query_plan import Source
from adpulse.server.storage.clickhouse import INSERT_SETTINGS, unavailable_on_failure
from adpulse.server.storage.dimension_values import ClickHouseDimensionValues

FACTS = Source.FACTS.value
CAMPAIGN_DAILY = Source.CAMPAIGN_DAILY.value
CAMPAIGN_MONTHLY = "campaign_monthly"
ACCOUNT_DAILY = Source.ACCOUNT_DAILY.value
# Reading FINAL may merge each month partition on its own: a key never spans two months.
SETTINGS = {"do_not_merge_across_partitions_select_final": 1}
# A batch may span as many months as the fact insert takes (INSERT_SETTINGS), and so may its rebuild.
_REBUILD_SETTINGS = {**SETTINGS, **INSERT_SETTINGS}
SUMS = "sum(impressions), sum(clicks), sum(cost_micros), sum(conversions_micros), sum(revenue_micros)"
_MEASURES = "impressions, clicks, cost_micros, conversions_micros, revenue_micros"
_VERSION = "toUInt64(toUnixTimestamp64Nano(now64(9)))"
_RANGE = "tenant = {tenant:String} AND date BETWEEN {first:Date} AND {last:Date}"


def _rebuild_sql(table: str, source: str, key: str, scope: str, derived: tuple[_Derived, ...] = ()) -> str:
    """New rows of `table` for every (date, key) of `source` in `scope` and tombstones for the
    ones only `table` still has."""
    names = "".join(f"{d.name}, " for d in derived)
    exprs = "".join(f"{d.expr}, " for d in derived)
    blanks = "".join(f"{d.blank}, " for d in derived)
    return f"""
INSERT INTO {table} (tenant, date, {key}, {names}{_MEASURES}, version, is_deleted)
SELECT tenant, date, {key}, {exprs}{SUMS}, {_VERSION}, 0
FROM {source} FINAL WHERE {scope}
GROUP BY tenant, date, {key}
UNION ALL
SELECT tenant, date, {key}, {blanks}0, 0, 0, 0, 0, {_VERSION}, 1
FROM {table} FINAL WHERE {scope}
  AND (date, {key}) NOT IN (SELECT date, {key} FROM {source} FINAL WHERE {scope})
"""


@dataclass(frozen=True)
class _Derived:
    """A rollup column beyond key and sums: its expression over the source rows, and its value
    in a tombstone."""

    name: str
    expr: str
    blank: str = "0"


_CAMPAIGN_KEY = "platform, account_id, campaign_id, currency"
_ACCOUNT_KEY = "platform, account_id, currency"
# The campaign rollup also keeps each day's newest name and the fact version it came from.
_CAMPAIGN_DERIVED = (
    _Derived("campaign_name", "argMax(campaign_name, version)", "''"),
    _Derived("name_version", "max(version)"),
    _Derived("ads", "uniqExact(ad_group_id, ad_id)"),
)
# The keys an insert touched are those of its rows, which carry its version (the minmax index
# on version skips every part older than the insert).
_BATCH = f"FROM {FACTS} WHERE {_RANGE} AND version = {{version:UInt64}}"
_IN_CAMPAIGNS = (
    " AND (date, platform, account_id, campaign_id) IN "
    f"(SELECT DISTINCT date, platform, account_id, campaign_id {_BATCH})"
)
_IN_ACCOUNTS = f" AND (date, platform, account_id) IN (SELECT DISTINCT date, platform, account_id {_BATCH})"


def _monthly_sql(keys: str) -> str:
    """campaign_monthly re-summed from campaign_daily over the whole months that `first`..`last`
    touch (optionally only `keys`' campaign-months), with tombstones like `_rebuild_sql`'s."""
    tenant, first, last = "tenant = {tenant:String}", "toStartOfMonth({first:Date})", "{last:Date}"
    days = f"{tenant} AND date BETWEEN {first} AND toLastDayOfMonth({last})"
    months = f"{tenant} AND month BETWEEN {first} AND toStartOfMonth({last})"
    if keys:
        days += f" AND (toStartOfMonth(date), platform, account_id, campaign_id) IN ({keys})"
        months += f" AND (month, platform, account_id, campaign_id) IN ({keys})"
    return f"""
INSERT INTO {CAMPAIGN_MONTHLY} (tenant, month, {_CAMPAIGN_KEY}, campaign_name, name_date, name_version,
                                {_MEASURES}, version, is_deleted)
SELECT tenant, month, {_CAMPAIGN_KEY}, latest.1, latest.2, latest.3, m1, m2, m3, m4, m5, {_VERSION}, 0
FROM (SELECT tenant, toStartOfMonth(date) AS month, {_CAMPAIGN_KEY},
             argMax(tuple(campaign_name, date, name_version), (date, name_version)) AS latest,
             sum(impressions) AS m1, sum(clicks) AS m2, sum(cost_micros) AS m3,
             sum(conversions_micros) AS m4, sum(revenue_micros) AS m5
      FROM {CAMPAIGN_DAILY} FINAL WHERE {days}
      GROUP BY tenant, month, {_CAMPAIGN_KEY})
UNION ALL
SELECT tenant, month, {_CAMPAIGN_KEY}, '', toDate(0), 0, 0, 0, 0, 0, 0, {_VERSION}, 1
FROM {CAMPAIGN_MONTHLY} FINAL WHERE {months}
  AND (month, {_CAMPAIGN_KEY}) NOT IN
      (SELECT toStartOfMonth(date), {_CAMPAIGN_KEY} FROM {CAMPAIGN_DAILY} FINAL WHERE {days})
"""


_DAYS = (
    _rebuild_sql(CAMPAIGN_DAILY, FACTS, _CAMPAIGN_KEY, _RANGE, _CAMPAIGN_DERIVED),
    _rebuild_sql(ACCOUNT_DAILY, CAMPAIGN_DAILY, _ACCOUNT_KEY, _RANGE),
    _monthly_sql(""),
)
_KEYS = (
    _rebuild_sql(CAMPAIGN_DAILY, FACTS, _CAMPAIGN_KEY, _RANGE + _IN_CAMPAIGNS, _CAMPAIGN_DERIVED),
    _rebuild_sql(ACCOUNT_DAILY, CAMPAIGN_DAILY, _ACCOUNT_KEY, _RANGE + _IN_ACCOUNTS),
    _monthly_sql(f"SELECT DISTINCT toStartOfMonth(date), platform, account_id, campaign_id {_BATCH}"),
)


class ClickHouseRollups:
    def __init__(self, client: Any) -> None:
        self._client = client
        self._values = ClickHouseDimensionValues(client)

    def refresh(self, tenant: str, version: int, facts: pa.RecordBatch) -> None:
        """Rebuilds the rollup rows of the (day, campaign) and (day, account) keys of the rows
        just inserted under `version`."""
        if facts.num_rows == 0:
            return
        dates = pc.min_max(facts.column("date"))
        params = {
            "tenant": tenant,
            "version": version,
            "first": dates["min"].as_py(),
            "last": dates["max"].as_py(),
        }
        with unavailable_on_failure():
            for sql in _KEYS:
                self._client.command(sql, parameters=params, settings=_REBUILD_SETTINGS)
        self._values.refresh(tenant, version, params["first"], params["last"])

    def rebuild(self, tenant: str, first: dt.date, last: dt.date) -> int:
        """Re-derives the rollups and the search index over the days; how many campaign rows
        the days now have."""
        params = {"tenant": tenant, "first": first, "last": last}
        with unavailable_on_failure():
            for sql in _DAYS:
                self._client.command(sql, parameters=params, settings=_REBUILD_SETTINGS)
        self._values.rebuild(tenant, first, last)
        with unavailable_on_failure():
            rows = self._client.query(
                f"SELECT count() FROM {CAMPAIGN_DAILY} FINAL WHERE {_RANGE}",
                parameters=params,
                settings=SETTINGS,
            ).result_rows
        return int(rows[0][0])

    def mismatches(self, tenant: str, first: dt.date, last: dt.date) -> list[str]:
        """`rollup:currency` of each rollup and currency whose sums over the days differ from
        the facts' sums (none after a correct rebuild, unless facts arrived meanwhile)."""
        params = {"tenant": tenant, "first": first, "last": last}
        sql = (
            f"SELECT currency, {SUMS} FROM {{table:Identifier}} FINAL WHERE {_RANGE} "
            "GROUP BY currency ORDER BY currency"
        )
        with unavailable_on_failure():
            facts, *rollups = (
                {
                    row[0]: row[1:]
                    for row in self._client.query(
                        sql, parameters={**params, "table": table}, settings=SETTINGS
                    ).result_rows
                }
                for table in (FACTS, CAMPAIGN_DAILY, ACCOUNT_DAILY)
            )
        return sorted(
            f"{table}:{c}"
            for table, rollup in zip((CAMPAIGN_DAILY, ACCOUNT_DAILY), rollups, strict=True)
            for c in facts.keys() | rollup.keys()
            if facts.get(c) != rollup.get(c)
        )
