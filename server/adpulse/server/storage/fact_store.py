"""The fact table in ClickHouse (table ad_metrics): inserts, grouped sums, freshness; and the
exchange rates (table fx_rates) that sums in a reporting currency join against."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator, Sequence
from typing import Any

import pyarrow as pa

from adpulse.server.domain.fx import RATE_DECIMALS, FxRate, MissingRate
from adpulse.server.domain.metrics_query import MEASURES, FactSelection, Granularity, GroupColumn
from adpulse.server.domain.query_plan import (
    ACCOUNT_COLUMNS,
    CAMPAIGN_COLUMNS,
    Source,
    choose_source,
    full_months,
)
from adpulse.server.storage.clickhouse import INSERT_SETTINGS, unavailable_on_failure
from adpulse.server.storage.rollups import FACTS as TABLE
from adpulse.server.storage.rollups import SETTINGS as _QUERY_SETTINGS
from adpulse.server.storage.rollups import ClickHouseRollups

FX_TABLE = "fx_rates"
_MONEY = ("cost_micros", "revenue_micros")
# The latest campaign name of a range: a fact row's own version orders the names of one date;
# a rollup row keeps the date and version of the fact row its name came from. (date, version)
# packed into one UInt128 orders as the tuple does, and argMax compares it about twice as fast.
_NAME_ORDER = {
    source: f"bitOr(bitShiftLeft(toUInt128(toUInt16({date})), 64), toUInt128({version}))"
    for source, date, version in (
        (Source.FACTS, "f.date", "f.version"),
        (Source.CAMPAIGN_DAILY, "f.date", "f.name_version"),
        (Source.CAMPAIGN_MONTHLY, "f.name_date", "f.name_version"),
    )
}
_ROLLUP_COLUMNS = (
    "platform, account_id, campaign_id, currency, campaign_name, name_version, "
    "impressions, clicks, cost_micros, conversions_micros, revenue_micros"
)
# The whole months m_first..m_last from campaign_monthly, the days around them from
# campaign_daily; the outer query's date range bounds both.
_MONTHS_AND_DAYS = (
    f"(SELECT tenant, date, date AS name_date, {_ROLLUP_COLUMNS} FROM {Source.CAMPAIGN_DAILY.value} FINAL "
    "WHERE tenant = {tenant:String} AND date BETWEEN {start:Date} AND {end:Date} "
    "AND (date < {m_first:Date} OR date > toLastDayOfMonth({m_last:Date})) "
    f"UNION ALL SELECT tenant, month AS date, name_date, {_ROLLUP_COLUMNS} "
    f"FROM {Source.CAMPAIGN_MONTHLY.value} FINAL "
    "WHERE tenant = {tenant:String} AND month BETWEEN {m_first:Date} AND {m_last:Date}) AS f"
)
# An export streams every group: past these sizes ClickHouse spills the grouping and the sort
# to disk, so its memory stays flat however many groups there are.
_MAX_BLOCK_ROWS = 65536
_STREAM_SETTINGS = {
    **_QUERY_SETTINGS,
    "max_bytes_before_external_group_by": 512 << 20,
    "max_bytes_before_external_sort": 512 << 20,
    "max_block_size": _MAX_BLOCK_ROWS,
}
_BUCKET = {
    Granularity.DAY: "f.date",
    Granularity.WEEK: "toMonday(f.date)",
    Granularity.MONTH: "toStartOfMonth(f.date)",
}
# The newest rate of each (currency, date) into the reporting currency.
_RATES = (
    f"SELECT base_currency AS currency, date, argMax(rate, version) AS rate FROM {FX_TABLE} "
    "WHERE tenant = {tenant:String} AND quote_currency = {rc:String} GROUP BY currency, date"
)


def _where(selection: FactSelection, params: dict[str, Any]) -> str:
    params["tenant"] = selection.tenant
    where = ["f.tenant = {tenant:String}"]
    if selection.start:
        params["start"] = selection.start
        where.append("f.date >= {start:Date}")
    if selection.end:
        params["end"] = selection.end
        where.append("f.date <= {end:Date}")
    for i, flt in enumerate(selection.filters):
        params[f"f{i}"] = list(flt.values)
        where.append(f"f.{flt.dimension.column} {'NOT IN' if flt.exclude else 'IN'} {{f{i}:Array(String)}}")
    return " AND ".join(where)


def _table(selection: FactSelection, source: Source, params: dict[str, Any], final: bool = True) -> str:
    """`source` as `f`; the monthly rollup (always FINAL) with the days around its whole months."""
    months = full_months(selection.start, selection.end) if source is Source.CAMPAIGN_MONTHLY else None
    if months:
        params["m_first"], params["m_last"] = months
        return _MONTHS_AND_DAYS
    return f"{source.value} AS f{' FINAL' if final else ''}"


def _grouped_sums_sql(
    selection: FactSelection,
    groups: Sequence[GroupColumn],
    latest_campaign_name: bool,
    reporting_currency: str,
    source: Source = Source.FACTS,
) -> tuple[str, dict[str, Any]]:
    """Sums of the selected rows grouped by `groups` and currency; with a reporting currency,
    money is converted row by row at the row date's rate first (rows lacking one stay in
    their own currency). Columns carry a prefix (k_ for
    keys, m_ for measures, a_ for the rest): an alias named like a column would shadow it.
    `source` is the fact table or a rollup holding every column grouped or filtered by."""
    params: dict[str, Any] = {}
    where = _where(selection, params)
    keys = {g.column: _BUCKET[g.granularity] if g.column == "date" else f"f.{g.column}" for g in groups}
    table = _table(selection, source, params)
    money = {m: f"f.{m}" for m in _MONEY}
    if reporting_currency:
        params["rc"] = reporting_currency
        # A row without a rate on its date (the join's default rate, 0; stored rates are
        # positive) keeps its own currency and amount: never a silent 0, and its group says so.
        converts = "f.currency != {rc:String} AND r.rate > 0"
        keys["currency"] = "if(f.currency = {rc:String} OR r.rate > 0, {rc:String}, f.currency)"
        table += f" LEFT JOIN ({_RATES}) AS r ON r.currency = f.currency AND r.date = f.date"
        # Each row converts on its own date, rounded half-even to whole micros, then sums.
        money = {m: f"if({converts}, toInt64(roundBankers(f.{m} * r.rate)), f.{m})" for m in _MONEY}
    keys.setdefault("currency", "f.currency")
    select = [f"{expr} AS k_{col}" for col, expr in keys.items()]
    if _at_grain(source, groups, reporting_currency):
        # Each group is one rollup row (FINAL keeps one per key): its sums and its name are the
        # row's own, and re-grouping 10^6 rows by five strings cost 3/4 of the read.
        select += [f"f.{m} AS m_{m}" for m in MEASURES]
        if latest_campaign_name:
            select.append("f.campaign_name AS a_campaign_name")
        return f"SELECT {', '.join(select)} FROM {table} WHERE {where}", params
    select += [f"sum({money.get(m, f'f.{m}')}) AS m_{m}" for m in MEASURES]
    if latest_campaign_name:
        select.append(f"argMax(f.campaign_name, {_NAME_ORDER[source]}) AS a_campaign_name")
    group_by = ", ".join(f"k_{c}" for c in keys)
    sql = f"SELECT {', '.join(select)} FROM {table} WHERE {where} GROUP BY {group_by}"
    return sql, params


_GRAIN = {Source.CAMPAIGN_DAILY: CAMPAIGN_COLUMNS, Source.ACCOUNT_DAILY: ACCOUNT_COLUMNS}


def _at_grain(source: Source, groups: Sequence[GroupColumn], reporting_currency: str) -> bool:
    """Whether the groups are exactly the daily rollup's key (by day, in the rows' currency)."""
    by_day = all(g.granularity is Granularity.DAY for g in groups if g.column == "date")
    columns = {g.column for g in groups} | {"currency"}
    return not reporting_currency and by_day and columns == _GRAIN.get(source, frozenset())


class ClickHouseFactStore:
    """The facts and their rollups: an insert returns once the rollup rows of the keys it
    touched are rebuilt, so whoever acknowledges the batch afterwards acknowledges both."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self._rollups = ClickHouseRollups(client)

    def insert(self, tenant: str, version: int, facts: pa.RecordBatch) -> None:
        if facts.num_rows == 0:
            return
        table = pa.Table.from_batches([facts])
        table = table.append_column("tenant", pa.repeat(tenant, facts.num_rows))
        table = table.append_column("version", pa.repeat(pa.scalar(version, pa.uint64()), facts.num_rows))
        with unavailable_on_failure():
            self._client.insert_arrow(TABLE, table, settings=INSERT_SETTINGS)
        self._rollups.refresh(tenant, version, facts)

    def grouped_sums(
        self,
        selection: FactSelection,
        groups: Sequence[GroupColumn],
        latest_campaign_name: bool,
        reporting_currency: str = "",
        source: Source | None = None,
    ) -> pa.Table:
        source = source or choose_source(selection, groups, reporting_currency)
        sql, params = _grouped_sums_sql(selection, groups, latest_campaign_name, reporting_currency, source)
        with unavailable_on_failure():
            table = self._client.query_arrow(sql, parameters=params, settings=_QUERY_SETTINGS)
        return table.rename_columns([name[2:] for name in table.column_names])

    def stream_grouped_sums(
        self,
        selection: FactSelection,
        groups: Sequence[GroupColumn],
        latest_campaign_name: bool,
        reporting_currency: str = "",
        *,
        after: Sequence[str] = (),
        block_rows: int = _MAX_BLOCK_ROWS,
    ) -> Iterator[pa.RecordBatch]:
        sql, params = _grouped_sums_sql(selection, groups, latest_campaign_name, reporting_currency)
        if after:
            # Tuples compare like ORDER BY sorts, so this resumes right after the group `after`.
            bounds = []
            for i, (g, value) in enumerate(zip(groups, after, strict=True)):
                params[f"after{i}"] = dt.date.fromisoformat(value) if g.column == "date" else value
                bounds.append(f"{{after{i}:{'Date' if g.column == 'date' else 'String'}}}")
            sql += f" HAVING tuple({', '.join(f'k_{g.column}' for g in groups)}) > tuple({', '.join(bounds)})"
        order = ", ".join(f"k_{g.column}" for g in groups)
        if order:
            sql += f" ORDER BY {order}"
        settings = {**_STREAM_SETTINGS, "max_block_size": min(block_rows, _MAX_BLOCK_ROWS)}
        with (
            unavailable_on_failure(),
            self._client.query_arrow_stream(sql, parameters=params, settings=settings) as stream,
        ):
            for batch in stream:
                yield batch.rename_columns([name[2:] for name in batch.schema.names])

    def count_groups(
        self,
        selection: FactSelection,
        key_columns: Sequence[str],
        at_most: int,
        granularity: Granularity = Granularity.DAY,
    ) -> int:
        # DISTINCT with a LIMIT stops reading once it has found `at_most` keys, so its memory is
        # that many keys whatever the selection holds. No FINAL: a replaced row keeps its key. It
        # reads the source the sums would: a year by campaign is 120 k monthly rows (FINAL,
        # small) instead of 3.65 M daily ones (450 ms -> 25 ms).
        params: dict[str, Any] = {}
        where = _where(selection, params)
        source = choose_source(selection, [GroupColumn(col, granularity) for col in key_columns], "")
        keys = ", ".join(_BUCKET[granularity] if col == "date" else f"f.{col}" for col in key_columns)
        table = _table(selection, source, params, final=False)
        sql = f"SELECT count() FROM (SELECT DISTINCT {keys} FROM {table} WHERE {where} LIMIT {int(at_most)})"
        with unavailable_on_failure():
            return int(self._client.query(sql, parameters=params, settings=_QUERY_SETTINGS).result_rows[0][0])

    def missing_rates(self, selection: FactSelection, reporting_currency: str) -> list[MissingRate]:
        params: dict[str, Any] = {"rc": reporting_currency}
        where = _where(selection, params)
        sql = (
            "SELECT f.currency, arraySlice(arraySort(groupArray(f.date)), 1, 5), count() FROM "
            f"(SELECT DISTINCT f.currency, f.date FROM {TABLE} AS f FINAL "
            f"WHERE {where} AND f.currency != {{rc:String}}) AS f "
            f"LEFT ANTI JOIN ({_RATES}) AS r ON r.currency = f.currency AND r.date = f.date "
            "GROUP BY f.currency ORDER BY f.currency"
        )
        with unavailable_on_failure():
            rows = self._client.query(sql, parameters=params, settings=_QUERY_SETTINGS).result_rows
        return [MissingRate(currency, tuple(dates), count) for currency, dates, count in rows]

    def platform_freshness(self, tenant: str) -> list[tuple[str, dt.date, int]]:
        sql = (
            f"SELECT platform, max(date), count() FROM {TABLE} FINAL "
            "WHERE tenant = {tenant:String} GROUP BY platform ORDER BY platform"
        )
        with unavailable_on_failure():
            rows = self._client.query(
                sql, parameters={"tenant": tenant}, settings=_QUERY_SETTINGS
            ).result_rows
        return [(platform, newest, rows) for platform, newest, rows in rows]

    def date_span(self, selection: FactSelection) -> tuple[dt.date, dt.date] | None:
        params: dict[str, Any] = {}
        sql = f"SELECT min(f.date), max(f.date), count() FROM {TABLE} AS f WHERE {_where(selection, params)}"
        with unavailable_on_failure():
            first, last, rows = self._client.query(sql, parameters=params).result_rows[0]
        return (first, last) if rows else None

    def platforms(self, selection: FactSelection) -> list[str]:
        params: dict[str, Any] = {}
        sql = (
            f"SELECT DISTINCT f.platform FROM {TABLE} AS f WHERE {_where(selection, params)} "
            "ORDER BY f.platform"
        )
        with unavailable_on_failure():
            return [row[0] for row in self._client.query(sql, parameters=params).result_rows]


class ClickHouseFxRates:
    def __init__(self, client: Any) -> None:
        self._client = client

    def upsert(self, tenant: str, rates: Sequence[FxRate]) -> None:
        if not rates:
            return
        table = pa.table(
            {
                "tenant": pa.repeat(tenant, len(rates)),
                "date": pa.array([r.date for r in rates], pa.date32()),
                "base_currency": [r.base for r in rates],
                "quote_currency": [r.quote for r in rates],
                "rate": pa.array([r.rate for r in rates], pa.decimal128(38, RATE_DECIMALS)),
                # Later upserts win; nanoseconds order the upserts of one server well enough.
                "version": pa.repeat(pa.scalar(time.time_ns(), pa.uint64()), len(rates)),
            }
        )
        with unavailable_on_failure():
            self._client.insert_arrow(FX_TABLE, table)
