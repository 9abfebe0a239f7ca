"""The fact table in ClickHouse (table ad_metrics): inserts and grouped sums."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import pyarrow as pa

from adpulse.server.domain.metrics_query import MEASURES, FactSelection, Granularity, GroupColumn
from adpulse.server.storage.clickhouse import unavailable_on_failure

TABLE = "ad_metrics"
# Keys never straddle a month partition (the month is a function of the key's date), so FINAL
# can merge each partition on its own, in parallel.
_QUERY_SETTINGS = {"do_not_merge_across_partitions_select_final": 1}
_BUCKET = {
    Granularity.DAY: "date",
    Granularity.WEEK: "toMonday(date)",
    Granularity.MONTH: "toStartOfMonth(date)",
}


class ClickHouseFactStore:
    def __init__(self, client: Any) -> None:
        self._client = client

    def insert(self, tenant: str, version: int, facts: pa.RecordBatch) -> None:
        if facts.num_rows == 0:
            return
        table = pa.Table.from_batches([facts])
        table = table.append_column("tenant", pa.repeat(tenant, facts.num_rows))
        table = table.append_column("version", pa.repeat(pa.scalar(version, pa.uint64()), facts.num_rows))
        with unavailable_on_failure():
            self._client.insert_arrow(TABLE, table)

    def grouped_sums(
        self, selection: FactSelection, groups: Sequence[GroupColumn], latest_campaign_name: bool
    ) -> pa.Table:
        where, params = _where(selection)
        # Aliases carry a prefix: an alias named like a column would shadow it in WHERE.
        keys = {g.column: _BUCKET[g.granularity] if g.column == "date" else g.column for g in groups}
        keys.setdefault("currency", "currency")
        select = [f"{expr} AS k_{col}" for col, expr in keys.items()]
        select += [f"sum({m}) AS m_{m}" for m in MEASURES]
        if latest_campaign_name:
            select.append("argMax(campaign_name, (date, version)) AS a_campaign_name")
        sql = (
            f"SELECT {', '.join(select)} FROM {TABLE} FINAL WHERE {' AND '.join(where)} "
            f"GROUP BY {', '.join(f'k_{col}' for col in keys)}"
        )
        with unavailable_on_failure():
            table = self._client.query_arrow(sql, parameters=params, settings=_QUERY_SETTINGS)
        return table.rename_columns([name[2:] for name in table.column_names])

    def date_span(self, selection: FactSelection) -> tuple[dt.date, dt.date] | None:
        where, params = _where(selection)
        sql = f"SELECT min(date), max(date), count() FROM {TABLE} WHERE {' AND '.join(where)}"
        with unavailable_on_failure():
            first, last, rows = self._client.query(sql, parameters=params).result_rows[0]
        return (first, last) if rows else None

    def platforms(self, selection: FactSelection) -> list[str]:
        where, params = _where(selection)
        sql = f"SELECT DISTINCT platform FROM {TABLE} WHERE {' AND '.join(where)} ORDER BY platform"
        with unavailable_on_failure():
            return [row[0] for row in self._client.query(sql, parameters=params).result_rows]


def _where(selection: FactSelection) -> tuple[list[str], dict[str, Any]]:
    """The WHERE conditions of a selection, with their parameters."""
    params: dict[str, Any] = {"tenant": selection.tenant}
    where = ["tenant = {tenant:String}"]
    if selection.start:
        params["start"] = selection.start
        where.append("date >= {start:Date}")
    if selection.end:
        params["end"] = selection.end
        where.append("date <= {end:Date}")
    for i, f in enumerate(selection.filters):
        params[f"f{i}"] = list(f.values)
        where.append(f"{f.dimension.column} {'NOT IN' if f.exclude else 'IN'} {{f{i}:Array(String)}}")
    return where, params
