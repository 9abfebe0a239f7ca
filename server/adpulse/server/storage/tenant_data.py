"""A tenant's rows in every store, for its export, its deletion and fact retention.

The tables are found, not listed: every Postgres and ClickHouse table with a `tenant` column
holds tenant data, so a table added later is exported and deleted without anyone remembering
to add it here. The columns
an export leaves out (`SECRET_COLUMNS`; what a deletion keeps is the use case's choice).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pyarrow as pa
from psycopg import sql

from adpulse.server.storage import clickhouse
from adpulse.server.storage.postgres import Pool, unavailable_on_failure

# Hashes of key secrets and sealed webhook secrets never leave the server, not even to the tenant.
SECRET_COLUMNS = ("secret_sha256", "sealed_secret")
OPERATIONS_TABLE = "operations"
_FETCH_ROWS = 5000


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
    def __init__(self, client: Any) -> None:
        self._client = client

    def tables(self) -> list[str]:
        """Tables with a `tenant` column, by name."""
        with clickhouse.unavailable_on_failure():
            rows = self._client.query(
                "SELECT DISTINCT table FROM system.columns WHERE database = currentDatabase() "
                "AND name = 'tenant' ORDER BY table"
            ).result_rows
        return [row[0] for row in rows]

    def batches(self, table: str, tenant: str) -> Iterator[pa.RecordBatch]:
        """The tenant's rows of `table` as stored, latest version of each key only (FINAL on a
        replacing table), in Arrow batches: at least one, so the columns are known."""
        with clickhouse.unavailable_on_failure():
            engine = self._client.query(
                "SELECT engine FROM system.tables WHERE database = currentDatabase() AND name = {t:String}",
                parameters={"t": table},
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

    def count(self, table: str, tenant: str, before: dt.date | None = None) -> int:
        """Rows of the tenant (every stored version; dated before `before` if given)."""
        where, params = _where(tenant, before)
        with clickhouse.unavailable_on_failure():
            return int(
                self._client.command(f"SELECT count() FROM `{table}` WHERE {where}", parameters=params)
            )

    def delete(self, table: str, tenant: str, before: dt.date | None = None) -> int:
        """Deletes the tenant's rows (dated before `before` if given); the rows deleted. The
        mutation rewrites the parts that hold them and is waited for, so the rows are gone
        from disk, not merely hidden, when this returns."""
        found = self.count(table, tenant, before)
        if found:
            where, params = _where(tenant, before)
            with clickhouse.unavailable_on_failure():
                self._client.command(
                    f"ALTER TABLE `{table}` DELETE WHERE {where}",
                    parameters=params,
                    settings={"mutations_sync": 2},
                )
        return found


def _where(tenant: str, before: dt.date | None) -> tuple[str, dict[str, Any]]:
    if before is None:
        return "tenant = {tenant:String}", {"tenant": tenant}
    return "tenant = {tenant:String} AND date < {before:Date}", {"tenant": tenant, "before": before}
