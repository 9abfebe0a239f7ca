"""The search index behind SearchDimensionValues (table dimension_values): one row per account,
campaign, ad group and ad of a tenant (and currency) with the campaign's newest name, its newest
data date and its daily cost over the recent days, so a search reads one small table and never
the facts.

Kept like the rollups (the rollups call `refresh` after each insert and `rebuild` in backfills):
every refresh re-sums, from the facts read FINAL, the recent days of each campaign it touched
(and of its ad groups and ads; accounts from account_daily), under the same clock as the rollups,
so the row written last has read at least what every earlier one read. Each row keeps the days
from 30 days before the tenant's newest date at its refresh: a search drops those older than 30
days before the newest date now, so a row not touched since the window moved is still exact.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from adpulse.server.domain.query_plan import Source
from adpulse.server.domain.search import DimensionValue, Kind, Match, SearchPage, SearchQuery
from adpulse.server.storage.clickhouse import INSERT_SETTINGS, unavailable_on_failure

TABLE = "dimension_values"
RECENT_DAYS = 30
_FACTS = Source.FACTS.value
_ACCOUNTS = Source.ACCOUNT_DAILY.value
# The rollups' version clock (storage/rollups.py): ClickHouse's time at the statement's start.
_CLOCK = "toUInt64(toUnixTimestamp64Nano(now64(9)))"
_KEY = "kind, platform, account_id, campaign_id, ad_group_id, ad_id, currency"
_TENANT = "tenant = {tenant:String}"
_BATCH_ROWS = "date BETWEEN {first:Date} AND {last:Date} AND version = {version:UInt64}"
_DAY_ROWS = "date BETWEEN {first:Date} AND {last:Date}"
# Each fact row counts for its campaign, its ad group and its ad.
_LEVELS = (
    "[('campaign', f_campaign, '', ''), ('ad_group', f_campaign, f_ad_group, ''), "
    "('ad', f_campaign, f_ad_group, f_ad)]"
)
# Fact columns under names the levels' keys (campaign_id, …) do not shadow.
_AD = "platform, account_id, campaign_id, ad_group_id, ad_id, currency"
_AD_COLUMNS = (
    "platform, account_id, campaign_id AS f_campaign, ad_group_id AS f_ad_group, ad_id AS f_ad, currency"
)
_FACT_COLUMNS = f"{_AD_COLUMNS}, date, campaign_name AS f_name, version AS f_version"


def _refresh_sql(scope: str) -> str:
    """New rows for every value of the campaigns and accounts the facts in `scope` touch: recent
    daily costs re-summed, the newest of the stored and the found name and last date. A stored
    value the recent facts no longer have (an ad moved currency) keeps its name with no cost."""
    touched = f"FROM {_FACTS} WHERE {_TENANT} AND {scope}"
    campaigns = f"(platform, account_id, campaign_id) IN (SELECT platform, account_id, campaign_id {touched})"
    accounts = f"(platform, account_id) IN (SELECT platform, account_id {touched})"
    recent = "date >= {since:Date}"
    return f"""
INSERT INTO {TABLE} (tenant, {_KEY}, id, name, name_date, name_version, last_date, days, costs, version)
SELECT {{tenant:String}}, {_KEY},
       multiIf(kind = 'account', account_id, kind = 'campaign', campaign_id,
               kind = 'ad_group', ad_group_id, ad_id),
       argMax(name, (name_date, name_version)), max(name_date),
       argMax(name_version, (name_date, name_version)), max(last_date),
       argMax(days, fresh), argMax(costs, fresh), {_CLOCK}
FROM (
    SELECT {_KEY}, argMax(nm, (date, nv)) AS name, max(date) AS name_date,
           argMax(nv, (date, nv)) AS name_version, max(date) AS last_date,
           groupArrayIf(date, is_recent) AS days, groupArrayIf(cost, is_recent) AS costs, 1 AS fresh
    FROM (
        SELECT k.1 AS kind, platform, account_id, k.2 AS campaign_id, k.3 AS ad_group_id,
               k.4 AS ad_id, currency, date, sum(f_cost) AS cost,
               argMax(if(k.1 = 'campaign', f_name, ''), f_version) AS nm, max(f_version) AS nv,
               max(f_recent) AS is_recent
        FROM (
            SELECT {_FACT_COLUMNS}, cost_micros AS f_cost, 1 AS f_recent FROM {_FACTS} FINAL
            WHERE {_TENANT} AND {recent} AND {campaigns}
            UNION ALL
            SELECT {_AD_COLUMNS}, max(date), argMax(campaign_name, (date, version)),
                   argMax(version, (date, version)), 0, 0
            FROM {_FACTS} WHERE {_TENANT} AND {scope} AND NOT {recent} GROUP BY {_AD}
        ) ARRAY JOIN {_LEVELS} AS k
        GROUP BY {_KEY}, date
        UNION ALL
        SELECT 'account', platform, account_id, '', '', '', currency, date, cost_micros, '', 0, 1
        FROM {_ACCOUNTS} FINAL WHERE {_TENANT} AND {recent} AND {accounts}
        UNION ALL
        SELECT DISTINCT 'account', platform, account_id, '', '', '', currency, date, 0, '', 0, 0
        {touched} AND NOT {recent}
    )
    GROUP BY {_KEY}
    UNION ALL
    SELECT {_KEY}, name, name_date, name_version, last_date, [], [], 0 FROM {TABLE} FINAL
    WHERE {_TENANT} AND if(kind = 'account', {accounts}, {campaigns})
)
GROUP BY {_KEY}
"""


_REFRESH_BATCH = _refresh_sql(_BATCH_ROWS)
_REFRESH_DAYS = _refresh_sql(_DAY_ROWS)
# Ties in cost: accounts, then campaigns, ad groups and ads; then by name and id.
_SEARCH = (
    "SELECT kind, id, name, platform, account_id, campaign_id, ad_group_id, currency, "
    "arraySum(arrayFilter((c, d) -> d >= {{since:Date}}, costs, days)) AS recent, last_date, count() OVER () "
    f"FROM {TABLE} FINAL WHERE tenant = {{{{tenant:String}}}} "
    "AND kind IN {{kinds:Array(String)}}{platforms} "
    "AND (id ILIKE {{pattern:String}} OR name ILIKE {{pattern:String}}) "
    "ORDER BY recent DESC, indexOf({{levels:Array(String)}}, kind), name, id, platform, account_id, "
    "campaign_id, ad_group_id, currency LIMIT {{limit:UInt32}} OFFSET {{offset:UInt64}}"
)
_NEWEST = f"SELECT max(last_date), count() FROM {TABLE} WHERE {_TENANT}"


def like_pattern(text: str, match: Match) -> str:
    """`text` as a LIKE pattern that matches it literally: `\\`, `%` and `_` escaped."""
    literal = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"{literal}%" if match is Match.PREFIX else f"%{literal}%"


class ClickHouseDimensionValues:
    def __init__(self, client: Any) -> None:
        self._client = client

    def refresh(self, tenant: str, version: int, first: dt.date, last: dt.date) -> None:
        """Re-derives the values the rows inserted under `version` (dated first..last) touch."""
        self._refresh(_REFRESH_BATCH, {"tenant": tenant, "version": version, "first": first, "last": last})

    def rebuild(self, tenant: str, first: dt.date, last: dt.date) -> None:
        """Re-derives the values of every campaign and account with facts dated first..last."""
        self._refresh(_REFRESH_DAYS, {"tenant": tenant, "first": first, "last": last})

    def _refresh(self, sql: str, params: dict[str, Any]) -> None:
        with unavailable_on_failure():
            newest = self._newest(params["tenant"])
            # Days before the window as it stands after these rows never count again.
            since = max(newest or params["last"], params["last"]) - dt.timedelta(days=RECENT_DAYS - 1)
            self._client.command(sql, parameters={**params, "since": since}, settings=INSERT_SETTINGS)

    def _newest(self, tenant: str) -> dt.date | None:
        newest, values = self._client.query(_NEWEST, parameters={"tenant": tenant}).result_rows[0]
        return newest if values else None

    def search(self, query: SearchQuery) -> SearchPage:
        with unavailable_on_failure():
            newest = self._newest(query.tenant)
            if newest is None:
                return SearchPage((), 0, None)
            since = newest - dt.timedelta(days=RECENT_DAYS - 1)
            params: dict[str, Any] = {
                "tenant": query.tenant,
                "kinds": [k.value for k in query.kinds],
                "levels": [k.value for k in Kind],
                "pattern": like_pattern(query.text, query.match),
                "platforms": list(query.platforms),
                "since": since,
                "limit": query.page_size,
                "offset": query.offset,
            }
            platforms = " AND platform IN {platforms:Array(String)}" if query.platforms else ""
            rows = self._client.query(_SEARCH.format(platforms=platforms), parameters=params).result_rows
        total = int(rows[0][-1]) if rows else 0
        return SearchPage(tuple(DimensionValue(Kind(r[0]), *r[1:-1]) for r in rows), total, (since, newest))
