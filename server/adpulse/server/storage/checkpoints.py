"""Loader checkpoints and tenant settings in Postgres."""

from __future__ import annotations

from adpulse.server.domain.runs import Checkpoint
from adpulse.server.storage.postgres import Pool, unavailable_on_failure


class PostgresCheckpoints:
    def __init__(self, pool: Pool) -> None:
        self._pool = pool

    def get(self, tenant: str, source: str, name: str) -> Checkpoint | None:
        with unavailable_on_failure(), self._pool.connection() as conn:
            row = conn.execute(
                "SELECT cursor, newest_date, updated_at FROM ingest_checkpoints "
                "WHERE tenant = %s AND source = %s AND name = %s",
                (tenant, source, name),
            ).fetchone()
        return Checkpoint(source, name, row[0], row[1], row[2]) if row else None

    def put(self, tenant: str, checkpoint: Checkpoint, expected_cursor: str | None) -> Checkpoint | None:
        c = checkpoint
        with unavailable_on_failure(), self._pool.connection() as conn:
            if expected_cursor is None:
                row = conn.execute(
                    "INSERT INTO ingest_checkpoints (tenant, source, name, cursor, newest_date) "
                    "VALUES (%s, %s, %s, %s, %s) ON CONFLICT (tenant, source, name) DO UPDATE SET "
                    "cursor = EXCLUDED.cursor, newest_date = EXCLUDED.newest_date, updated_at = now() "
                    "RETURNING updated_at",
                    (tenant, c.source, c.name, c.cursor, c.newest_date),
                ).fetchone()
            else:
                row = conn.execute(
                    "UPDATE ingest_checkpoints SET cursor = %s, newest_date = %s, updated_at = now() "
                    "WHERE tenant = %s AND source = %s AND name = %s AND cursor = %s RETURNING updated_at",
                    (c.cursor, c.newest_date, tenant, c.source, c.name, expected_cursor),
                ).fetchone()
                if row is None and expected_cursor == "":
                    # A loader's first checkpoint compares against the empty cursor of none.
                    row = conn.execute(
                        "INSERT INTO ingest_checkpoints (tenant, source, name, cursor, newest_date) "
                        "VALUES (%s, %s, %s, %s, %s) ON CONFLICT DO NOTHING RETURNING updated_at",
                        (tenant, c.source, c.name, c.cursor, c.newest_date),
                    ).fetchone()
        return Checkpoint(c.source, c.name, c.cursor, c.newest_date, row[0]) if row else None


class PostgresTenantSettings:
    def __init__(self, pool: Pool) -> None:
        self._pool = pool

    def reporting_currency(self, tenant: str) -> str:
        with unavailable_on_failure(), self._pool.connection() as conn:
            row = conn.execute(
                "SELECT reporting_currency FROM tenant_settings WHERE tenant = %s", (tenant,)
            ).fetchone()
        return row[0] if row else ""

    def set_reporting_currency(self, tenant: str, currency: str) -> None:
        with unavailable_on_failure(), self._pool.connection() as conn:
            conn.execute(
                "INSERT INTO tenant_settings (tenant, reporting_currency) VALUES (%s, %s) "
                "ON CONFLICT (tenant) DO UPDATE SET reporting_currency = EXCLUDED.reporting_currency, "
                "updated_at = now()",
                (tenant, currency),
            )

    def retention_days(self, tenant: str) -> int:
        with unavailable_on_failure(), self._pool.connection() as conn:
            row = conn.execute(
                "SELECT retention_days FROM tenant_settings WHERE tenant = %s", (tenant,)
            ).fetchone()
        return int(row[0]) if row else 0

    def set_retention_days(self, tenant: str, days: int) -> None:
        with unavailable_on_failure(), self._pool.connection() as conn:
            conn.execute(
                "INSERT INTO tenant_settings (tenant, retention_days) VALUES (%s, %s) "
                "ON CONFLICT (tenant) DO UPDATE SET retention_days = EXCLUDED.retention_days, "
                "updated_at = now()",
                (tenant, days),
            )
