"""A tenant's rows in every store, for its export, its deletion and fact retention.

The tables are found, not listed: every Postgres and ClickHouse table with a `tenant` column
holds tenant data, so a table added later is exported and deleted without anyone remembering
to add it here. What is named is what an export leaves out (`SECRET_COLUMNS`) and what
retention deletes (`_DATED`); which tables a deletion keeps is the use case's choice.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pyarrow as pa
from psycopg import sql

from adpulse.server.storage import clickhouse, dimension_values
from adpulse.server.storage.clickhouse_schema import SINGLE_NODE, ClickHouseSchema
from adpulse.server.storage.postgres import Pool, unavailable_on_failure
from adpulse.server.storage.rollups import ACCOUNT_DAILY, CAMPAIGN_DAILY, CAMPAIGN_MONTHLY, FACTS

# Hashes of key secrets and sealed webhook secrets never leave the server, not even to the tenant.
SECRET_COLUMNS = ("secret_sha256", "sealed_secret")
OPERATIONS_TABLE = "operations"
_FETCH_ROWS = 5000
# What retention deletes: the facts and each rollup, by its date column and bound, and the
# search index's values whose newest fact is older (they have none left).
_DATED = (
    (dimension_values.TABLE, "last_date", "{before:Date}"),
    (FACTS, "date", "{before:Date}"),
    (CAMPAIGN_DAILY, "date", "{before:Date}"),
    (ACCOUNT_DAILY, "date", "{before:Date}"),
    (CAMPAIGN_MONTHLY, "month", "toStartOfMonth({before:Date})"),
)


class PostgresTenantData:
    def __init__(self, pool: Pool) -> None:
        self._pool = pool

    def tables(self) -> list[str]:
        """Tables with a `tenant` column, by name."""
        with unavailable_on_failure(), self._pool.connection() as conn:
            rows = conn.execute(
                "SELECT table_name FROM information_schema.columns WHERE table_schema = current_schema() "
                "AND column_name = 'tenant' ORDER BY table_name"
            ).fetchall()
        return [row[0] for row in rows]

    def rows(self, table: str, tenant: str) -> Iterator[str]:
        """The tenant's rows of `table` as JSON objects (text), without secret columns; read
        through a server-side cursor, so memory holds a few thousand at most."""
        query = sql.SQL("SELECT (to_jsonb(t) - %s::text[])::text FROM {} AS t WHERE t.tenant = %s").format(
            sql.Identifier(table)
        )
        with unavailable_on_failure(), self._pool.connection() as conn, conn.transaction():
            cursor = conn.cursor(name=f"export_{table}")
            cursor.itersize = _FETCH_ROWS
            cursor.execute(query, (list(SECRET_COLUMNS), tenant))
            for (row,) in cursor:
                yield row

    def count(self, table: str, tenant: str, keep_operation: str) -> int:
        """Rows of the tenant in `table`, not counting the operation `keep_operation`."""
        where, params = _scope(table, tenant, keep_operation)
        with unavailable_on_failure(), self._pool.connection() as conn:
            row = conn.execute(
                sql.SQL("SELECT count(*) FROM {} WHERE ").format(sql.Identifier(table)) + where, params
            ).fetchone()
        assert row is not None
        return int(row[0])

    def delete(self, table: str, tenant: str, keep_operation: str) -> int:
        """Deletes the tenant's rows of `table`; of its operations, all but `keep_operation`
        (the deletion's own, which must report its result)."""
        where, params = _scope(table, tenant, keep_operation)
        with unavailable_on_failure(), self._pool.connection() as conn:
            return conn.execute(
                sql.SQL("DELETE FROM {} WHERE ").format(sql.Identifier(table)) + where, params
            ).rowcount


def _scope(table: str, tenant: str, keep_operation: str) -> tuple[sql.Composable, tuple[str, ...]]:
    if table == OPERATIONS_TABLE:
        return sql.SQL("tenant = %s AND op_id <> %s"), (tenant, keep_operation)
    return sql.SQL("tenant = %s"), (tenant,)


class ClickHouseTenantData:
    """Reads through the tables queries name; on a cluster, deletes from each node's local
    tables (a Distributed table takes no mutations)."""

    def __init__(self, client: Any, schema: ClickHouseSchema = SINGLE_NODE) -> None:
        self._client = client
        self._schema = schema

    def tables(self) -> list[str]:
        """Tables with a `tenant` column, by name."""
        with clickhouse.unavailable_on_failure():
            rows = self._client.query(
                "SELECT DISTINCT table FROM system.columns WHERE database = currentDatabase() "
                "AND name = 'tenant' ORDER BY table"
            ).result_rows
        return [row[0] for row in rows if self._schema.is_read_table(row[0])]

    def batches(self, table: str, tenant: str) -> Iterator[pa.RecordBatch]:
        """The tenant's rows of `table` as stored, latest version of each key only (FINAL on a
        replacing table), in Arrow batches: at least one, so the columns are known."""
        with clickhouse.unavailable_on_failure():
            engine = self._client.query(
                "SELECT engine FROM system.tables WHERE database = currentDatabase() AND name = {t:String}",
                parameters={"t": self._schema.storage_table(table)},
            ).result_rows[0][0]
        final = " FINAL" if "Replacing" in engine else ""
        with (
            clickhouse.unavailable_on_failure(),
            self._client.query_arrow_stream(
                f"SELECT * FROM `{table}`{final} WHERE tenant = {{tenant:String}}",
                parameters={"tenant": tenant},
                settings={"max_block_size": 65536},
            ) as stream,
        ):
            empty = True
            for batch in stream:
                empty = False
                yield batch
        if empty:  # one batch without rows still says what the columns are
            with clickhouse.unavailable_on_failure():
                schema = self._client.query_arrow(f"SELECT * FROM `{table}` WHERE 0").schema
            yield pa.RecordBatch.from_pylist([], schema=schema)

    def count(self, table: str, tenant: str) -> int:
        """Rows of the tenant in `table`, every stored version."""
        with clickhouse.unavailable_on_failure():
            return int(
                self._client.command(
                    f"SELECT count() FROM `{table}` WHERE tenant = {{tenant:String}}",
                    parameters={"tenant": tenant},
                )
            )

    def delete(self, table: str, tenant: str) -> int:
        """Deletes the tenant's rows of `table`; the rows deleted."""
        return self._delete(table, "tenant = {tenant:String}", {"tenant": tenant})

    def delete_older(self, tenant: str, before: dt.date) -> int:
        """Deletes the tenant's facts dated before `before`, and their daily rollups, and the
        monthly rollups of the months wholly before it; the facts deleted. (The month `before`
        falls in keeps its monthly rollup, which the caller re-derives.)"""
        deleted = 0
        for table, column, bound in _DATED:
            where = f"tenant = {{tenant:String}} AND {column} < {bound}"
            rows = self._delete(table, where, {"tenant": tenant, "before": before})
            deleted += rows if table == FACTS else 0
        return deleted

    def _delete(self, table: str, where: str, params: dict[str, Any]) -> int:
        """Deletes the rows `where` selects; how many there were. The mutation rewrites the parts
        that hold them and is waited for, so the rows are gone from disk, not merely hidden,
        when this returns."""
        with clickhouse.unavailable_on_failure():
            found = int(
                self._client.command(f"SELECT count() FROM `{table}` WHERE {where}", parameters=params)
            )
            if found:
                self._client.command(
                    f"ALTER TABLE {self._schema.mutation_target(table)} DELETE WHERE {where}",
                    parameters=params,
                    settings={"mutations_sync": 2},
                )
        return found
